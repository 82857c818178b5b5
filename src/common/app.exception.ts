import { HttpStatus } from '@nestjs/common';

/** Stable, machine-readable error codes returned in every error body. */
export enum ErrorCode {
  ValidationFailed = 'VALIDATION_FAILED',
  MalformedJson = 'MALFORMED_JSON',
  Unauthorized = 'UNAUTHORIZED',
  Forbidden = 'FORBIDDEN',
  NotFound = 'NOT_FOUND',
  CustomerNotFound = 'CUSTOMER_NOT_FOUND',
  ServiceNotFound = 'SERVICE_NOT_FOUND',
  NoServiceForCustomer = 'NO_SERVICE_FOR_CUSTOMER',
  UnknownPromoCode = 'UNKNOWN_PROMO_CODE',
  CustomerOptedOut = 'CUSTOMER_OPTED_OUT',
  FrequencyCapped = 'FREQUENCY_CAPPED',
  NoEmailAddress = 'NO_EMAIL_ADDRESS',
  NoPhoneNumber = 'NO_PHONE_NUMBER',
  SmsQuietHours = 'SMS_QUIET_HOURS',
  MessageRejected = 'MESSAGE_REJECTED',
  DeliveryFailed = 'DELIVERY_FAILED',
  InvalidToken = 'INVALID_TOKEN',
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  CampaignAlreadyRunning = 'CAMPAIGN_ALREADY_RUNNING',
  SendWindowClosed = 'SEND_WINDOW_CLOSED',
  CampaignFailed = 'CAMPAIGN_FAILED',
  Internal = 'INTERNAL_ERROR',
  MessageNotFound = 'MESSAGE_NOT_FOUND',
  ShuttingDown = 'SHUTTING_DOWN',
}

export interface FieldError {
  field: string;
  message: string;
}

/** The one exception modules throw; the global filter maps it to HTTP. */
export class AppException extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: HttpStatus,
    readonly errors?: FieldError[],
  ) {
    super(message);
    this.name = 'AppException';
  }

  static notFound(code: ErrorCode, message: string) {
    return new AppException(code, message, HttpStatus.NOT_FOUND);
  }

  static badRequest(code: ErrorCode, message: string, errors?: FieldError[]) {
    return new AppException(code, message, HttpStatus.BAD_REQUEST, errors);
  }

  static conflict(code: ErrorCode, message: string) {
    return new AppException(code, message, HttpStatus.CONFLICT);
  }
}
