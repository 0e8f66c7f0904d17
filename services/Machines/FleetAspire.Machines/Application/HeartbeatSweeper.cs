using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Writes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace FleetAspire.Machines.Application;

/// <summary>
/// Records a <c>missed</c> check for every assigned machine whose last heartbeat (or assignment) is older than
/// <see cref="HealthCheckOptions.HeartbeatTimeout"/>: a dead machine sends nothing, and silence must count as failure.
/// One replica sweeps at a time (session advisory lock).
/// </summary>
public sealed partial class HeartbeatSweeper(
    IServiceScopeFactory scopes,
    IOptions<HealthCheckOptions> options,
    TimeProvider time,
    ILogger<HeartbeatSweeper> logger) : BackgroundService
{
    private const long SweeperLockKey = 0x6865617274; // "heart"

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.SweeperEnabled)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SweepOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogSweepFailed(logger, ex.GetType().Name);
            }

            await Task.Delay(options.Value.SweepInterval, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Returns how many missed checks were recorded.</summary>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<FleetDbContext>();
        var recorder = scope.ServiceProvider.GetRequiredService<HealthRecorder>();
        await using var held = await SessionLock.TryAcquireAsync(db, SweeperLockKey, cancellationToken);
        if (held is null)
        {
            return 0;
        }

        var cutoff = time.GetUtcNow() - options.Value.HeartbeatTimeout;
        var assignments = scope.ServiceProvider.GetRequiredService<IAssignmentWrites>();
        return await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            var silent = await assignments.SilentAsync(cutoff, 500, cancellationToken);
            var recorded = 0;
            foreach (var machine in silent)
            {
                // Skipped when released since the list was read: its machine may be gone already.
                recorded += await recorder.RecordAsync(machine, HealthOutcome.Missed, null, null, cancellationToken) == HealthRecord.Recorded ? 1 : 0;
            }

            return recorded;
        });
    }


    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat sweep failed ({ExceptionType})")]
    private static partial void LogSweepFailed(ILogger logger, string exceptionType);
}
