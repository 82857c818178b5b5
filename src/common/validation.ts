import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { AppException, ErrorCode, FieldError } from './app.exception';
import { hostileInputProblems } from './hostile-input';

/** What the global pipe throws: VALIDATION_FAILED, each problem naming its field. */
export class ValidationFailedException extends AppException {
  constructor(errors: FieldError[]) {
    super(ErrorCode.ValidationFailed, `invalid request: ${errors.map((e) => e.message).join('; ')}`, errors);
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

const CHECKED_INPUT: Partial<Record<ArgumentMetadata['type'], string>> = { body: 'request body', query: 'query string', param: 'path' };

/** The global pipe: raw input is checked for what class-transformer cannot survive or would hide, then validated. */
class AppValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const what = CHECKED_INPUT[metadata.type];
    if (what) {
      const problems = hostileInputProblems(value, metadata.data ?? '', what);
      if (problems.length > 0) throw new ValidationFailedException(problems);
    }
    return super.transform(value, metadata);
  }
}

/** Whitelisted, transformed DTOs; unknown fields rejected; every error names its field. */
export function createValidationPipe(): ValidationPipe {
  return new AppValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: true,
    exceptionFactory: (errors) => new ValidationFailedException(flatten(errors)),
  });
}
