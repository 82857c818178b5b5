import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AdminApiKeyGuard } from '../auth/admin-api-key.guard';
import { ErrorResponseDto } from '../common/error-response.dto';
import { ExperimentKeyParamDto } from './dto/experiment-key.param';
import { CreateExperimentDto, ExperimentListDto, ExperimentResponseDto, ExperimentResultsDto } from './dto/experiment.dto';
import { ExperimentsService } from './experiments.service';

@ApiTags('experiments')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'Missing or wrong admin API key', type: ErrorResponseDto })
@ApiResponse({ status: 400, description: 'Invalid body or key; `errors` names each bad field', type: ErrorResponseDto })
@UseGuards(AdminApiKeyGuard)
@Controller('admin/smartengage/experiments')
export class ExperimentsController {
  constructor(private readonly experiments: ExperimentsService) {}

  @Post()
  @ApiOperation({ summary: 'Create an experiment: a holdout that gets no message and variants that change it' })
  @ApiResponse({ status: 201, type: ExperimentResponseDto })
  @ApiResponse({ status: 409, description: 'An experiment with this key exists (EXPERIMENT_EXISTS)', type: ErrorResponseDto })
  create(@Body() body: CreateExperimentDto): Promise<ExperimentResponseDto> {
    return this.experiments.create(body);
  }

  @Get()
  @ApiOperation({ summary: 'Every experiment, newest first' })
  @ApiResponse({ status: 200, type: ExperimentListDto })
  list(): Promise<ExperimentListDto> {
    return this.experiments.list();
  }

  @Get(':key')
  @ApiOperation({ summary: 'One experiment' })
  @ApiResponse({ status: 200, type: ExperimentResponseDto })
  @ApiResponse({ status: 404, description: 'Unknown key (EXPERIMENT_NOT_FOUND)', type: ErrorResponseDto })
  get(@Param() { key }: ExperimentKeyParamDto): Promise<ExperimentResponseDto> {
    return this.experiments.get(key);
  }

  @Post(':key/stop')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Stop assigning customers; assignments made keep their arm, and the results stay' })
  @ApiResponse({ status: 200, type: ExperimentResponseDto })
  @ApiResponse({ status: 404, description: 'Unknown key (EXPERIMENT_NOT_FOUND)', type: ErrorResponseDto })
  stop(@Param() { key }: ExperimentKeyParamDto): Promise<ExperimentResponseDto> {
    return this.experiments.stop(key);
  }

  @Get(':key/results')
  @ApiOperation({ summary: 'Conversion per arm, uplift over the holdout with intervals and p-values, the sample-ratio check, a verdict' })
  @ApiResponse({ status: 200, type: ExperimentResultsDto })
  @ApiResponse({ status: 404, description: 'Unknown key (EXPERIMENT_NOT_FOUND)', type: ErrorResponseDto })
  results(@Param() { key }: ExperimentKeyParamDto): Promise<ExperimentResultsDto> {
    return this.experiments.results(key);
  }
}
