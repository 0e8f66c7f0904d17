using System.Security.Cryptography;
using FleetAspire.Cloud;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace FleetAspire.Pool.Application;

public sealed record ReconcileReport(bool Ran, int Promoted, int Removed, int Provisioned, int Retired);

/// <summary>
/// One pass that moves the pool toward its target: promote booted servers to ready, forget servers the provider no
/// longer has, provision the shortfall, retire the excess.
/// </summary>
/// <remarks>
/// A session advisory lock makes one replica reconcile at a time, so two replicas never both provision the same
/// shortfall. Claims do not take this lock: they only ever remove ready rows, and retirement locks rows with
/// <c>SKIP LOCKED</c> just as claims do, so a machine is either claimed or retired, never both.
/// </remarks>
public sealed partial class PoolReconciler(
    FleetDbContext db,
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

        var promoted = await PromoteBootedAsync(cancellationToken);
        var removed = await RemoveLostAsync(cancellationToken);
        var target = await db.PoolSettings.AsNoTracking().Select(s => s.TargetSize).SingleAsync(cancellationToken);
        var live = await db.ParkedMachines.CountAsync(cancellationToken);
        var provisioned = live < target
            ? await ProvisionAsync(Math.Min(target - live, options.Value.MaxProvisionPerPass), cancellationToken)
            : 0;
        var retired = live > target ? await RetireAsync(live - target, cancellationToken) : 0;
        return new ReconcileReport(true, promoted, removed, provisioned, retired);
    }

    private async Task<int> PromoteBootedAsync(CancellationToken cancellationToken)
    {
        var launching = await db.ParkedMachines
            .Where(p => p.Status == ParkedMachineStatus.Launching && p.MachineId != null)
            .OrderBy(p => p.CreatedAt)
            .ToListAsync(cancellationToken);
        var promoted = 0;
        foreach (var row in launching)
        {
            var server = await provider.GetServerAsync(row.MachineId!, cancellationToken);
            if (server is null)
            {
                db.ParkedMachines.Remove(row);
            }
            else if (server.Running)
            {
                row.Status = ParkedMachineStatus.Ready;
                row.Ipv4 = server.Ipv4 ?? row.Ipv4;
                row.UpdatedAt = time.GetUtcNow();
                promoted++;
            }
        }

        await db.SaveChangesAsync(cancellationToken);
        return promoted;
    }

    /// <summary>Rows whose create call never returned (the process died mid-call) are dropped after a grace period.</summary>
    private async Task<int> RemoveLostAsync(CancellationToken cancellationToken)
    {
        // REVIEW: the server such a call may have created is found by its label (fleet-pool=<row id>) only by an
        // operator today; an orphan sweep over provider labels is future work.
        var cutoff = time.GetUtcNow() - options.Value.StaleProvisionAfter;
        // In a transaction like every write, so it passes the migration's epoch fence and dual-write.
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var removed = await db.ParkedMachines
            .Where(p => p.MachineId == null && p.CreatedAt < cutoff)
            .ExecuteDeleteAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return removed;
    }

    private async Task<int> ProvisionAsync(int count, CancellationToken cancellationToken)
    {
        var provisioned = 0;
        for (var i = 0; i < count; i++)
        {
            // The row exists before the server does, so a crash after the provider call leaves a row to find.
            var now = time.GetUtcNow();
            var row = new ParkedMachine
            {
                Id = EntityIds.New(EntityIds.ParkedMachine),
                MachineName = string.Empty,
                SharedKey = MintSharedKey(),
                Status = ParkedMachineStatus.Launching,
                CreatedAt = now,
                UpdatedAt = now,
            };
            row.MachineName = $"fleet-pool-{row.Id[^12..]}";
            db.ParkedMachines.Add(row);
            await db.SaveChangesAsync(cancellationToken);

            CloudServer server;
            try
            {
                server = await provider.CreateServerAsync(
                    row.MachineName,
                    CloudInit(row.SharedKey),
                    new Dictionary<string, string> { ["fleet-pool"] = row.Id },
                    cancellationToken);
            }
            catch (Exception ex)
            {
                LogProvisionFailed(logger, provider.Name, ex.GetType().Name);
                db.ParkedMachines.Remove(row);
                await db.SaveChangesAsync(CancellationToken.None);
                throw;
            }

            row.MachineId = server.Id;
            row.Ipv4 = server.Ipv4;
            row.Status = server.Running && server.Ipv4 is not null ? ParkedMachineStatus.Ready : ParkedMachineStatus.Launching;
            row.UpdatedAt = time.GetUtcNow();
            await db.SaveChangesAsync(cancellationToken);
            provisioned++;
        }

        return provisioned;
    }

    /// <summary>Retires the newest surplus machines: launching ones first (cheapest to lose), then ready ones.</summary>
    private async Task<int> RetireAsync(int count, CancellationToken cancellationToken)
    {
        var retired = 0;
        for (var i = 0; i < count; i++)
        {
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            var row = await db.ParkedMachines
                .FromSql($"""
                    SELECT * FROM parked_machines
                    WHERE machine_id IS NOT NULL
                    ORDER BY (status = 'launching') DESC, created_at DESC
                    LIMIT 1 FOR UPDATE SKIP LOCKED
                    """)
                .FirstOrDefaultAsync(cancellationToken);
            if (row is null)
            {
                break;
            }

            // Delete the row, destroy the server, then commit: if the provider refuses, the rollback keeps the row.
            db.ParkedMachines.Remove(row);
            await db.SaveChangesAsync(cancellationToken);
            await provider.DeleteServerAsync(row.MachineId!, cancellationToken);
            await tx.CommitAsync(cancellationToken);
            retired++;
        }

        return retired;
    }

    /// <summary>256 random bits, URL-safe. The key goes to the server in user data and to the pool row, nowhere else.</summary>
    internal static string MintSharedKey() => Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string CloudInit(string sharedKey) => $"""
        #cloud-config
        write_files:
          - path: /etc/fleet/shared-key
            permissions: '0600'
            content: {sharedKey}
        """;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Provisioning through {Provider} failed ({ExceptionType})")]
    private static partial void LogProvisionFailed(ILogger logger, string provider, string exceptionType);
}
