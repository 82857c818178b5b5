import { AppException, ErrorCode } from '../common/app.exception';

/** A booking token that is missing, forged, expired, foreign, or names no message of its customer. */
export function invalidBookingToken(message: string): AppException {
  return new AppException(ErrorCode.InvalidToken, message);
}

export function messageNotFound(): AppException {
  return new AppException(ErrorCode.MessageNotFound, 'this link belongs to no message');
}

/** A valid token whose scope does not cover the event (a click's token opting out or recording a booking). */
export function insufficientScope(message: string): AppException {
  return new AppException(ErrorCode.InsufficientScope, message);
}
