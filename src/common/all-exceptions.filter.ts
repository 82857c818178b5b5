import { ArgumentsHost, BadRequestException, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppException, ErrorCode, FieldError } from './app.exception';
import { assignCorrelationId } from './correlation-id.middleware';
import { RequestContext } from './request-context';
import { ValidationFailedException } from './validation';

interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  errors?: FieldError[];
  correlationId?: string;
}

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
      return { statusCode: exception.status, code: exception.code, message: exception.message, errors: exception.errors };
    }
    if (exception instanceof ValidationFailedException) {
      return {
        statusCode: HttpStatus.BAD_REQUEST,
        code: ErrorCode.ValidationFailed,
        message: exception.message,
        errors: exception.errors,
      };
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
