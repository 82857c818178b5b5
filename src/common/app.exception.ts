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
  /** A booking token that is missing, forged, expired, foreign, or names no message of its customer. */
  InvalidToken = 'INVALID_TOKEN',
  /** An unsubscribe link whose token is forged or malformed; answered as INVALID_TOKEN (a bad path, so a 400). */
  InvalidUnsubscribeToken = 'INVALID_UNSUBSCRIBE_TOKEN',
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
  /** A route that needs the LLM (prepare) on an instance without OPENAI_API_KEY. */
  LlmNotConfigured = 'LLM_NOT_CONFIGURED',
  /** A prepare while another holds the prepare lock; the message names the holder. */
  PrepareAlreadyRunning = 'PREPARE_ALREADY_RUNNING',
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

/**
 * What modules throw: a code and a message that says what to do (never internals). Modules never pick an HTTP
 * status; the global filter maps the code to one (HTTP_STATUS in all-exceptions.filter.ts).
 */
export class AppException extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly errors?: FieldError[],
  ) {
    super(message);
    this.name = 'AppException';
  }
}
