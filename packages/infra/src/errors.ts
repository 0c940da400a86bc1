import { TillstreamError, type ErrorCode } from '@tillstream/contracts';

/** A one-line, actionable failure of the local infrastructure tool. */
export class InfraError extends TillstreamError {
  constructor(code: ErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'InfraError';
  }
}
