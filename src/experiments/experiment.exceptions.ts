import { AppException, ErrorCode } from '../common/app.exception';

export function experimentNotFound(key: string): AppException {
  return new AppException(ErrorCode.ExperimentNotFound, `experiment ${key} does not exist`);
}

export function experimentExists(key: string): AppException {
  return new AppException(ErrorCode.ExperimentExists, `an experiment with key ${key} already exists; keys are never reused`);
}

export function experimentStopped(key: string): AppException {
  return new AppException(ErrorCode.ExperimentStopped, `experiment ${key} is stopped and takes no new customers`);
}

/** A 400 naming the field, for rules the DTO cannot check alone (a promo code that must exist, unique names). */
export function invalidExperimentField(field: string, message: string): AppException {
  return new AppException(ErrorCode.ValidationFailed, `invalid request: ${message}`, [{ field, message }]);
}
