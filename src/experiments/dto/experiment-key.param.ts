import { ApiProperty } from '@nestjs/swagger';
import { Matches, MaxLength } from 'class-validator';
import { EXPERIMENT_KEY } from './experiment.dto';

export class ExperimentKeyParamDto {
  @ApiProperty({ example: 'reminder-worth-it' })
  @Matches(EXPERIMENT_KEY, { message: 'key must be a slug: lower-case letters and digits, words joined by single hyphens' })
  @MaxLength(64, { message: 'key must be at most 64 characters' })
  key: string;
}
