import { ArgumentsHost, BadRequestException, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppException, ErrorCode, FieldError } from './app.exception';
import { assignCorrelationId } from './correlation-id.middleware';
import { RequestContext } from './request-context';

interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  errors?: FieldError[];
  correlationId?: string;
}

/** The one table from error code to HTTP status: modules throw codes, only this filter knows statuses. */
const HTTP_STATUS: Record<ErrorCode, HttpStatus> = {
  [ErrorCode.ValidationFailed]: HttpStatus.BAD_REQUEST,
  [ErrorCode.MalformedJson]: HttpStatus.BAD_REQUEST,
  [ErrorCode.MalformedBody]: HttpStatus.BAD_REQUEST,
  [ErrorCode.UnknownPromoCode]: HttpStatus.BAD_REQUEST,
  [ErrorCode.InvalidUnsubscribeToken]: HttpStatus.BAD_REQUEST,
  [ErrorCode.Unauthorized]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.InvalidToken]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.Forbidden]: HttpStatus.FORBIDDEN,
  [ErrorCode.InsufficientScope]: HttpStatus.FORBIDDEN,
  [ErrorCode.NotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.CustomerNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.ServiceNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.MessageNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.RunNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.ExperimentNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.NoServiceForCustomer]: HttpStatus.CONFLICT,
  [ErrorCode.CustomerOptedOut]: HttpStatus.CONFLICT,
  [ErrorCode.FrequencyCapped]: HttpStatus.CONFLICT,
  [ErrorCode.NoEmailAddress]: HttpStatus.CONFLICT,
  [ErrorCode.NoPhoneNumber]: HttpStatus.CONFLICT,
  [ErrorCode.InvalidEmailAddress]: HttpStatus.CONFLICT,
  [ErrorCode.InvalidPhoneNumber]: HttpStatus.CONFLICT,
  [ErrorCode.SmsQuietHours]: HttpStatus.CONFLICT,
  [ErrorCode.CampaignAlreadyRunning]: HttpStatus.CONFLICT,
  [ErrorCode.SendWindowClosed]: HttpStatus.CONFLICT,
  [ErrorCode.RunStateConflict]: HttpStatus.CONFLICT,
  [ErrorCode.LlmNotConfigured]: HttpStatus.CONFLICT,
  [ErrorCode.PrepareAlreadyRunning]: HttpStatus.CONFLICT,
  [ErrorCode.ExperimentExists]: HttpStatus.CONFLICT,
  [ErrorCode.ExperimentStopped]: HttpStatus.CONFLICT,
  [ErrorCode.PayloadTooLarge]: HttpStatus.PAYLOAD_TOO_LARGE,
  [ErrorCode.UnsupportedMediaType]: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
  [ErrorCode.MessageRejected]: HttpStatus.UNPROCESSABLE_ENTITY,
  [ErrorCode.TooManyRequests]: HttpStatus.TOO_MANY_REQUESTS,
  [ErrorCode.CampaignFailed]: HttpStatus.INTERNAL_SERVER_ERROR,
  [ErrorCode.Internal]: HttpStatus.INTERNAL_SERVER_ERROR,
  [ErrorCode.DeliveryFailed]: HttpStatus.BAD_GATEWAY,
  [ErrorCode.CampaignInterrupted]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.ShuttingDown]: HttpStatus.SERVICE_UNAVAILABLE,
};

/** Codes answered under another code's name: both token errors are INVALID_TOKEN on the wire (docs/api.md). */
const ANSWERED_AS: Partial<Record<ErrorCode, ErrorCode>> = {
  [ErrorCode.InvalidUnsubscribeToken]: ErrorCode.InvalidToken,
};

/** The status and the code an error body carries for a module exception's code. */
export function answerTo(code: ErrorCode): { statusCode: HttpStatus; code: ErrorCode } {
  return { statusCode: HTTP_STATUS[code], code: ANSWERED_AS[code] ?? code };
}

/** Nest's own HTTP exceptions (unknown route, throttler, body limits) carry a status; this names its code. */
const CODE_FOR_STATUS: Record<number, ErrorCode> = {
  [HttpStatus.BAD_REQUEST]: ErrorCode.ValidationFailed,
  [HttpStatus.UNAUTHORIZED]: ErrorCode.Unauthorized,
  [HttpStatus.FORBIDDEN]: ErrorCode.Forbidden,
  [HttpStatus.NOT_FOUND]: ErrorCode.NotFound,
  [HttpStatus.PAYLOAD_TOO_LARGE]: ErrorCode.PayloadTooLarge,
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE]: ErrorCode.UnsupportedMediaType,
  [HttpStatus.TOO_MANY_REQUESTS]: ErrorCode.TooManyRequests,
};

/** The one place errors become HTTP: `{ statusCode, code, message, errors?, correlationId }`. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const request = http.getRequest<Request>();
    // Body parsing runs before the middleware, so its errors arrive without a correlation id.
    const correlationId = RequestContext.correlationId() ?? assignCorrelationId(request, response);
    const body = { ...this.toBody(exception, request), correlationId };
    if (body.statusCode >= 500) {
      this.logger.error(body.message, exception instanceof Error ? exception.stack : String(exception));
    }
    response.status(body.statusCode).type('application/json').json(body);
  }

  private toBody(exception: unknown, request: Request): ErrorBody {
    if (exception instanceof AppException) {
      return { ...answerTo(exception.code), message: exception.message, errors: exception.errors };
    }
    if (isBodyParserError(exception)) return bodyParserErrorBody(exception, request);
    if (exception instanceof HttpException) {
      // Nest turns body-parser's SyntaxError into a bare BadRequestException carrying the parser's message.
      if (exception instanceof BadRequestException && /JSON/.test(exception.message)) {
        return { statusCode: 400, code: ErrorCode.MalformedJson, message: `the request body is not valid JSON: ${exception.message}` };
      }
      const status = exception.getStatus();
      const message = status >= 500 ? 'internal server error' : exception.message;
      return { statusCode: status, code: CODE_FOR_STATUS[status] ?? ErrorCode.Internal, message };
    }
    return { statusCode: 500, code: ErrorCode.Internal, message: 'internal server error' };
  }
}

/** body-parser's errors (http-errors): a client status, `expose` set; `type` or a zlib `code` says what failed. */
interface BodyParserError {
  status: number;
  message: string;
  expose: true;
  type?: string;
  code?: string;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  const candidate = error as Partial<BodyParserError> | null;
  return typeof candidate?.status === 'number' && candidate.status >= 400 && candidate.status < 500 && candidate.expose === true;
}

/** zlib (gzip, deflate) and brotli error codes: the body was not what its Content-Encoding claimed. */
const DECODING_FAILED = /^(Z_|ERR_BROTLI|ERR__)/;

function bodyParserErrorBody(error: BodyParserError, request: Request): ErrorBody {
  if (error.type === 'entity.parse.failed') {
    return { statusCode: 400, code: ErrorCode.MalformedJson, message: 'the request body is not valid JSON' };
  }
  if (typeof error.code === 'string' && DECODING_FAILED.test(error.code)) {
    const declared = request.header('content-encoding') ?? '';
    const named = /^[\w, -]{1,40}$/.test(declared) ? `Content-Encoding: ${declared}` : 'its Content-Encoding';
    return { statusCode: 400, code: ErrorCode.MalformedBody, message: `the request body does not decode as ${named}` };
  }
  return { statusCode: error.status, code: CODE_FOR_STATUS[error.status] ?? ErrorCode.ValidationFailed, message: error.message };
}
