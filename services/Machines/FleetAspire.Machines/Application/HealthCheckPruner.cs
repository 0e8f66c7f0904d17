using FleetAspire.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace FleetAspire.Machines.Application;

/// <summary>
/// Deletes health checks older than <see cref="HealthCheckOptions.Retention"/>, in batches with a pause between them,
/// so retention never holds locks or I/O for long. Safe on every replica: batches of different replicas only race to
/// delete the same old rows.
/// </summary>
public sealed partial class HealthCheckPruner(
    IServiceScopeFactory scopes,
    IOptions<HealthCheckOptions> options,
    TimeProvider time,
    ILogger<HealthCheckPruner> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PruneAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogPruneFailed(logger, ex.GetType().Name);
            }

            await Task.Delay(options.Value.PruneInterval, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Returns how many checks were deleted.</summary>
    public async Task<int> PruneAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var cutoff = time.GetUtcNow() - o.Retention;
        var total = 0;
        while (true)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<FleetDbContext>();
            // In a transaction like every write, so it passes the migration's epoch fence and dual-write.
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            var deleted = await db.Database.ExecuteSqlAsync($"""
                DELETE FROM machine_health_checks
                WHERE id IN (SELECT id FROM machine_health_checks WHERE checked_at < {cutoff} ORDER BY id LIMIT {o.PruneBatchSize})
                """, cancellationToken);
            await tx.CommitAsync(cancellationToken);
            total += deleted;
            if (deleted < o.PruneBatchSize)
            {
                return total;
            }

            await Task.Delay(o.PruneBatchPause, time, cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Health check pruning failed ({ExceptionType})")]
    private static partial void LogPruneFailed(ILogger logger, string exceptionType);
}
