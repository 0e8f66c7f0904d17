using FleetAspire.Cloud;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Writes;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Pool.Application;

/// <summary>The steady state: the pool is the hetzner machines no agent holds.</summary>
public sealed class MachinePoolWrites(FleetDbContext db, ICloudProvider provider, TimeProvider time) : IPoolWrites
{
    private IQueryable<Machine> Pool() =>
        db.Machines.Where(m => m.Type == MachineTypes.Hetzner
            && (m.Status == MachineStatus.Launching || m.Status == MachineStatus.Ready)
            && !db.Agents.Any(a => a.MachineRef == m.Id));

    public Task<int> CountLiveAsync(CancellationToken cancellationToken) => Pool().CountAsync(cancellationToken);

    public async Task<int> PromoteBootedAsync(CancellationToken cancellationToken)
    {
        var launching = await Pool().Where(m => m.Status == MachineStatus.Launching).OrderBy(m => m.CreatedAt).ToListAsync(cancellationToken);
        var promoted = 0;
        var gone = new List<string>();
        // The provider is asked first, outside any transaction; what it said is written in one.
        foreach (var machine in launching)
        {
            var server = await provider.GetServerAsync(machine.LegacyId, cancellationToken);
            if (server is null)
            {
                gone.Add(machine.Id);
            }
            else if (server.Running)
            {
                machine.Status = MachineStatus.Ready;
                machine.Ipv4 = server.Ipv4 ?? machine.Ipv4;
                machine.LastSeenAt = time.GetUtcNow();
                promoted++;
            }
        }

        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        foreach (var id in gone)
        {
            await MachineRetirement.RetireAsync(db, id, cancellationToken);
        }

        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return promoted;
    }

    /// <summary>Nothing to remove: a Machine is recorded only once the provider has answered with its id.</summary>
    public Task<int> RemoveLostAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) => Task.FromResult(0);

    /// <summary>
    /// The server is created first and recorded when the provider answers: a Machine's id derives from the provider's
    /// server id. A crash between the two leaves a server labelled <c>fleet-pool</c> and no row (the same orphan case
    /// as the legacy path's lost create call, ADR 0011).
    /// </summary>
    public async Task ProvisionOneAsync(CancellationToken cancellationToken)
    {
        var label = EntityIds.New(EntityIds.ParkedMachine);
        var name = $"fleet-pool-{label[^12..]}";
        var sharedKey = PoolProvisioning.MintSharedKey();
        var server = await provider.CreateServerAsync(name, PoolProvisioning.CloudInit(sharedKey),
            new Dictionary<string, string> { ["fleet-pool"] = label }, cancellationToken);
        var now = time.GetUtcNow();
        var status = server.Running && server.Ipv4 is not null ? MachineStatus.Ready : MachineStatus.Launching;
        await PoolProvisioning.RecordOrDestroyAsync(provider, server, async () =>
        {
            // In a transaction like every write, so it passes the migration's epoch fence.
            await using var tx = await db.Database.BeginTransactionAsync(CancellationToken.None);
            await db.Database.ExecuteSqlAsync($"""
            INSERT INTO machines (id, type, hetzner_machine_id, name, ipv4, shared_key, port, status, created_at, last_seen_at, legacy_id)
            VALUES (fleet_machine_id('hetzner', {server.Id}), 'hetzner', {server.Id}, {name}, {server.Ipv4 ?? string.Empty}, {sharedKey},
                    {Machine.DefaultPort}, {status}, {now}, {now}, {server.Id})
            """, CancellationToken.None);
            await tx.CommitAsync(CancellationToken.None);
        });
    }

    /// <summary>The newest surplus machine no agent holds, locked; <paramref name="relation"/> is the relation's column (from the model).</summary>
    private static string RetireSql(string relation) => $"""
        SELECT * FROM machines m
        WHERE m.type = 'hetzner' AND m.status IN ('launching', 'ready')
          AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.{relation} = m.id)
        ORDER BY (m.status = 'launching') DESC, m.created_at DESC
        LIMIT 1 FOR UPDATE SKIP LOCKED
        """;

    /// <summary>
    /// Retires in three steps so no transaction is open across the provider call: the machine is taken out of the pool
    /// (set launching, which claims skip) and committed; the server is deleted; the row goes (or stays as a tombstone
    /// for its children). A process that dies in between leaves a launching machine the next pass resolves by asking
    /// the provider (promoted again, or removed).
    /// </summary>
    public async Task<bool> RetireOneAsync(CancellationToken cancellationToken)
    {
        Machine? machine;
        await using (var tx = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            machine = await db.Machines.FromSqlRaw(RetireSql(db.AgentRelationColumnName())).FirstOrDefaultAsync(cancellationToken);
            if (machine is null)
            {
                return false;
            }

            machine.Status = MachineStatus.Launching;
            machine.LastSeenAt = time.GetUtcNow();
            await db.SaveChangesAsync(cancellationToken);
            await tx.CommitAsync(cancellationToken);
        }

        await provider.DeleteServerAsync(machine.LegacyId, cancellationToken);
        await using (var tx = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            await MachineRetirement.RetireAsync(db, machine.Id, cancellationToken);
            await tx.CommitAsync(cancellationToken);
        }

        return true;
    }
}
