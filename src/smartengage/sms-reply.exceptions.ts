import { HttpStatus } from '@nestjs/common';
import { AppException, ErrorCode } from '../common/app.exception';

export function invalidSignature(message: string): AppException {
  return new AppException(ErrorCode.Unauthorized, message, HttpStatus.UNAUTHORIZED);
}

/** Without SMS_INBOUND_SECRET the webhook answers as a route that does not exist. */
export function webhookDisabled(method: string, path: string): AppException {
  return AppException.notFound(ErrorCode.NotFound, `Cannot ${method} ${path}`);
}
