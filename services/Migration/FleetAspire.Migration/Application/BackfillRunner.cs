using FleetAspire.Data.MachineTransition.Backfill;

namespace FleetAspire.Migration.Application;

/// <summary>
/// Runs the backfill in the background whenever its checkpoint says <c>running</c>, so start/resume return at once and
/// a restarted control service picks an interrupted run up where it stopped.
/// </summary>
public sealed partial class BackfillRunner(MachineBackfill backfill, ILogger<BackfillRunner> logger) : BackgroundService
{
    private readonly SemaphoreSlim _wake = new(0, 1);

    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

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
            catch (Exception ex)
            {
                LogRunFailed(logger, ex.GetType().Name);
            }

            await _wake.WaitAsync(TimeSpan.FromSeconds(2), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Backfill run failed ({ExceptionType}); its checkpoint records the error")]
    private static partial void LogRunFailed(ILogger logger, string exceptionType);
}
