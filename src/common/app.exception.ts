import { HttpStatus } from '@nestjs/common';

/** Stable, machine-readable error codes returned in every error body. */
export enum ErrorCode {
  ValidationFailed = 'VALIDATION_FAILED',
  MalformedJson = 'MALFORMED_JSON',
  /** The body does not decode as its Content-Encoding says (gzip, deflate, br). */
  MalformedBody = 'MALFORMED_BODY',
  UnsupportedMediaType = 'UNSUPPORTED_MEDIA_TYPE',
  TooManyRequests = 'TOO_MANY_REQUESTS',
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
  InvalidEmailAddress = 'INVALID_EMAIL_ADDRESS',
  InvalidPhoneNumber = 'INVALID_PHONE_NUMBER',
  SmsQuietHours = 'SMS_QUIET_HOURS',
  MessageRejected = 'MESSAGE_REJECTED',
  DeliveryFailed = 'DELIVERY_FAILED',
  InvalidToken = 'INVALID_TOKEN',
  InsufficientScope = 'INSUFFICIENT_SCOPE',
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  CampaignAlreadyRunning = 'CAMPAIGN_ALREADY_RUNNING',
  SendWindowClosed = 'SEND_WINDOW_CLOSED',
  CampaignFailed = 'CAMPAIGN_FAILED',
  CampaignInterrupted = 'CAMPAIGN_INTERRUPTED',
  RunNotFound = 'RUN_NOT_FOUND',
  /** Pause, resume or cancel of a run in a state that does not allow it; the message names the state. */
  RunStateConflict = 'RUN_STATE_CONFLICT',
  ShuttingDown = 'SHUTTING_DOWN',
  Internal = 'INTERNAL_ERROR',
  MessageNotFound = 'MESSAGE_NOT_FOUND',
  ExperimentNotFound = 'EXPERIMENT_NOT_FOUND',
  ExperimentExists = 'EXPERIMENT_EXISTS',
  /** A send names an experiment that was stopped: it takes no new customers. */
  ExperimentStopped = 'EXPERIMENT_STOPPED',
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

  /** The work broke off on our side; the message says what to do (never internals). */
  static failed(code: ErrorCode, message: string) {
    return new AppException(code, message, HttpStatus.INTERNAL_SERVER_ERROR);
  }

  /** This instance cannot do it now (it is shutting down); another instance or a retry can. */
  static unavailable(code: ErrorCode, message: string) {
    return new AppException(code, message, HttpStatus.SERVICE_UNAVAILABLE);
  }
}
