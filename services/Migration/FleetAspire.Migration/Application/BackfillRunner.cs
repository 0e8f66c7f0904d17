using FleetAspire.Data;
using FleetAspire.Data.MachineTransition.Backfill;

namespace FleetAspire.Migration.Application;

/// <summary>
/// Runs the backfill in the background whenever its checkpoint says <c>running</c>, so start/resume return at once and
/// a restarted control service picks an interrupted run up where it stopped.
/// </summary>
public sealed partial class BackfillRunner(MachineBackfill backfill, ILogger<BackfillRunner> logger) : BackgroundService
{
    private readonly WakeSignal _wake = new();

    /// <summary>Start or resume was requested: look at the checkpoint now rather than at the next tick.</summary>
    public void Wake() => _wake.Notify();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var progress = await backfill.ProgressAsync(stoppingToken);
                if (progress.State == BackfillStates.Running)
                {
                    await backfill.RunAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Npgsql.NpgsqlException ex) when (ex.IsTransient)
            {
                // The run is still 'running' at its last checkpoint: the next tick resumes it.
                LogRunInterrupted(logger, ex.GetType().Name);
            }
            catch (Exception ex)
            {
                LogRunFailed(logger, ex.GetType().Name);
            }

            await _wake.WaitAsync(TimeSpan.FromSeconds(2), stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backfill run interrupted ({ExceptionType}); it resumes from its checkpoint")]
    private static partial void LogRunInterrupted(ILogger logger, string exceptionType);

    [LoggerMessage(Level = LogLevel.Error, Message = "Backfill run failed ({ExceptionType}); its checkpoint records the error")]
    private static partial void LogRunFailed(ILogger logger, string exceptionType);
}
