import { AppException, ErrorCode } from '../common/app.exception';

export function experimentNotFound(key: string): AppException {
  return AppException.notFound(ErrorCode.ExperimentNotFound, `experiment ${key} does not exist`);
}

export function experimentExists(key: string): AppException {
  return AppException.conflict(ErrorCode.ExperimentExists, `an experiment with key ${key} already exists; keys are never reused`);
}

export function experimentStopped(key: string): AppException {
  return AppException.conflict(ErrorCode.ExperimentStopped, `experiment ${key} is stopped and takes no new customers`);
}

/** A 400 naming the field, for rules the DTO cannot check alone (a promo code that must exist, unique names). */
export function invalidExperimentField(field: string, message: string): AppException {
  return AppException.badRequest(ErrorCode.ValidationFailed, `invalid request: ${message}`, [{ field, message }]);
}
