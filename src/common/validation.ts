import { ValidationError, ValidationPipe } from '@nestjs/common';
import { FieldError } from './app.exception';

export class ValidationFailedException extends Error {
  constructor(readonly errors: FieldError[]) {
    super(`invalid request: ${errors.map((e) => e.message).join('; ')}`);
    this.name = 'ValidationFailedException';
  }
}

function flatten(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.entries(error.constraints ?? {}).map(([rule, message]) => ({
      field,
      message: rule === 'whitelistValidation' ? `${field} is not a known field` : message,
    }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** Whitelisted, transformed DTOs; unknown fields rejected; every error names its field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: true,
    exceptionFactory: (errors) => new ValidationFailedException(flatten(errors)),
  });
}
