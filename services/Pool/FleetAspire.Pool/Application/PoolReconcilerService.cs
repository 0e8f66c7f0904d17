using Microsoft.Extensions.Options;

namespace FleetAspire.Pool.Application;

/// <summary>Runs <see cref="PoolReconciler"/> every interval, or at once when signalled.</summary>
public sealed partial class PoolReconcilerService(
    IServiceScopeFactory scopes,
    ReconcileSignal signal,
    IOptions<PoolOptions> options,
    ILogger<PoolReconcilerService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.ReconcilerEnabled)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<PoolReconciler>().ReconcileOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Outages of the database or provider are expected; the next pass retries.
                LogPassFailed(logger, ex.GetType().Name, ex.Message);
            }

            await signal.WaitAsync(options.Value.ReconcileInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pool reconcile pass failed ({ExceptionType}: {Reason})")]
    private static partial void LogPassFailed(ILogger logger, string exceptionType, string reason);
}
