using FleetAspire.Cloud;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Pool.Application;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Pool.MachineTransition;

/// <summary>
/// The pool in today's model: the pool table, a row written before its server exists so a crash after the provider
/// call leaves a row to find. In the dual-write phases the commit writes the same change to Machine.
/// </summary>
public sealed class LegacyPoolWrites(FleetDbContext db, ICloudProvider provider, TimeProvider time) : IPoolWrites
{
    public Task<int> CountLiveAsync(CancellationToken cancellationToken) => db.ParkedMachines.CountAsync(cancellationToken);

    public async Task<int> PromoteBootedAsync(CancellationToken cancellationToken)
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

    public async Task<int> RemoveLostAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        // REVIEW: the server such a call may have created is found by its label (fleet-pool=<row id>) only by an
        // operator today; an orphan sweep over provider labels is future work.
        // In a transaction like every write, so it passes the migration's epoch fence and dual-write.
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var removed = await db.ParkedMachines
            .Where(p => p.MachineId == null && p.CreatedAt < cutoff)
            .ExecuteDeleteAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return removed;
    }

    public async Task ProvisionOneAsync(CancellationToken cancellationToken)
    {
        // The row exists before the server does, so a crash after the provider call leaves a row to find.
        var now = time.GetUtcNow();
        var row = new ParkedMachine
        {
            Id = EntityIds.New(EntityIds.ParkedMachine),
            MachineName = string.Empty,
            SharedKey = PoolProvisioning.MintSharedKey(),
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
                PoolProvisioning.CloudInit(row.SharedKey),
                new Dictionary<string, string> { ["fleet-pool"] = row.Id },
                cancellationToken);
        }
        catch
        {
            db.ParkedMachines.Remove(row);
            await db.SaveChangesAsync(CancellationToken.None);
            throw;
        }

        row.MachineId = server.Id;
        row.Ipv4 = server.Ipv4;
        row.Status = server.Running && server.Ipv4 is not null ? ParkedMachineStatus.Ready : ParkedMachineStatus.Launching;
        row.UpdatedAt = time.GetUtcNow();
        await PoolProvisioning.RecordOrDestroyAsync(provider, server, () => db.SaveChangesAsync(CancellationToken.None));
    }

    /// <summary>
    /// Retires in three steps so no transaction is open across the provider call: the row is taken out of the pool
    /// (set launching, which claims skip) and committed; the server is deleted; the row goes. A process that dies in
    /// between leaves a launching row the next pass resolves by asking the provider (promoted again, or removed).
    /// A pool row for a server an agent holds (dirty legacy data) is never retired: that would destroy the agent's server.
    /// </summary>
    public async Task<bool> RetireOneAsync(CancellationToken cancellationToken)
    {
        ParkedMachine? row;
        await using (var tx = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            row = await db.ParkedMachines
                .FromSql($"""
                    SELECT * FROM parked_machines p
                    WHERE p.machine_id IS NOT NULL
                      AND (SELECT count(*) FROM agents a WHERE a.machine_id = p.machine_id AND coalesce(a.machine_type, '') = 'hetzner') = 0
                    ORDER BY (p.status = 'launching') DESC, p.created_at DESC
                    LIMIT 1 FOR UPDATE SKIP LOCKED
                    """)
                .FirstOrDefaultAsync(cancellationToken);
            if (row is null)
            {
                return false;
            }

            row.Status = ParkedMachineStatus.Launching;
            row.UpdatedAt = time.GetUtcNow();
            await db.SaveChangesAsync(cancellationToken);
            await tx.CommitAsync(cancellationToken);
        }

        await provider.DeleteServerAsync(row.MachineId!, cancellationToken);
        await using (var tx = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            await db.ParkedMachines.Where(p => p.Id == row.Id).ExecuteDeleteAsync(cancellationToken);
            await tx.CommitAsync(cancellationToken);
        }

        return true;
    }
}
