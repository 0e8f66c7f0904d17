using FleetAspire.Cloud;
using FleetAspire.Data;
using FleetAspire.Data.Writes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace FleetAspire.Pool.Application;

/// <summary>
/// One pass that moves the pool toward its target: promote booted servers to ready, forget servers the provider no
/// longer has, provision the shortfall, retire the excess — in the pool storage the migration phase names.
/// </summary>
/// <remarks>
/// A session advisory lock makes one replica reconcile at a time, so two replicas never both provision the same
/// shortfall. Claims do not take this lock: they only ever take ready machines, and retirement locks rows with
/// <c>SKIP LOCKED</c> just as claims do, so a machine is either claimed or retired, never both.
/// </remarks>
public sealed partial class PoolReconciler(
    FleetDbContext db,
    IPoolWrites pool,
    ICloudProvider provider,
    IOptions<PoolOptions> options,
    TimeProvider time,
    ILogger<PoolReconciler> logger)
{
    /// <summary>Advisory lock key of the reconciler ("pool" in ASCII).</summary>
    private const long PoolLockKey = 0x706F6F6C;

    public async Task<ReconcileReport> ReconcileOnceAsync(CancellationToken cancellationToken)
    {
        await using var held = await SessionLock.TryAcquireAsync(db, PoolLockKey, cancellationToken);
        if (held is null)
        {
            return new ReconcileReport(false, 0, 0, 0, 0);
        }

        return await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            var promoted = await pool.PromoteBootedAsync(cancellationToken);
            var removed = await pool.RemoveLostAsync(time.GetUtcNow() - options.Value.StaleProvisionAfter, cancellationToken);
            var target = await db.PoolSettings.AsNoTracking().Select(s => s.TargetSize).SingleAsync(cancellationToken);
            var live = await pool.CountLiveAsync(cancellationToken);
            var provisioned = 0;
            for (; provisioned < Math.Min(target - live, options.Value.MaxProvisionPerPass); provisioned++)
            {
                try
                {
                    await pool.ProvisionOneAsync(cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogProvisionFailed(logger, provider.Name, ex.GetType().Name);
                    throw;
                }
            }

            var retired = 0;
            while (retired < live - target && await pool.RetireOneAsync(cancellationToken))
            {
                retired++;
            }

            return new ReconcileReport(true, promoted, removed, provisioned, retired);
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Provisioning through {Provider} failed ({ExceptionType})")]
    private static partial void LogProvisionFailed(ILogger logger, string provider, string exceptionType);
}
