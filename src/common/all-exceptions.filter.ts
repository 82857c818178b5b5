import { ArgumentsHost, BadRequestException, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { AppException, ErrorCode, FieldError } from './app.exception';
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
};

/** The one place errors become HTTP: `{ statusCode, code, message, errors?, correlationId }`. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const body = { ...this.toBody(exception), correlationId: RequestContext.correlationId() };
    if (body.statusCode >= 500) {
      this.logger.error(body.message, exception instanceof Error ? exception.stack : String(exception));
    }
    response.status(body.statusCode).type('application/json').json(body);
  }

  private toBody(exception: unknown): ErrorBody {
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
    if (isBodyParserError(exception)) {
      return exception.type === 'entity.parse.failed'
        ? { statusCode: 400, code: ErrorCode.MalformedJson, message: 'the request body is not valid JSON' }
        : { statusCode: exception.status, code: CODE_FOR_STATUS[exception.status] ?? ErrorCode.ValidationFailed, message: exception.message };
    }
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

interface BodyParserError {
  type: string;
  status: number;
  message: string;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  const candidate = error as Partial<BodyParserError> | null;
  return typeof candidate?.type === 'string' && typeof candidate.status === 'number' && candidate.status < 500;
}
