using System.Collections.Concurrent;
using FleetAspire.Contracts.Pool;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Outbox;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace FleetAspire.Data.Writes;

/// <summary>
/// The steady state: an agent holds a machine through its relation (<see cref="Agent.MachineRef"/>); a pool machine
/// is a hetzner <see cref="Machine"/> no agent holds. Nothing here touches a legacy column.
/// </summary>
public sealed class MachineAssignmentWrites(FleetDbContext db, IBatchFence fence) : IAssignmentWrites
{
    /// <summary>
    /// The claim in one statement, like the legacy one: lock the agent (only if it holds nothing), take the oldest
    /// ready unheld hetzner machine with <c>FOR UPDATE SKIP LOCKED</c>, mark it in use, relate the agent to it, write
    /// the <see cref="MachineClaimed"/> outbox row (<see cref="ClaimedEvent"/>). The event carries the same ids as in every phase.
    /// </summary>
    private static string ClaimSqlFor(string relation) => $$"""
        WITH agent AS (
            SELECT id FROM agents
            WHERE id = @agent_id AND {{relation}} IS NULL AND (@is_operator OR user_id = @user_id)
            FOR UPDATE
        ), picked AS (
            UPDATE machines SET status = 'in_use', last_seen_at = @now
            WHERE id = (
                SELECT m.id FROM machines m
                WHERE m.type = 'hetzner' AND m.status = 'ready' AND EXISTS (SELECT 1 FROM agent)
                  AND NOT EXISTS (SELECT 1 FROM agents x WHERE x.{{relation}} = m.id)
                ORDER BY m.created_at, m.id
                LIMIT 1
                FOR UPDATE SKIP LOCKED)
            RETURNING id, legacy_id, ipv4, port
        ), claimed AS (
            UPDATE agents a SET {{relation}} = p.id, status = 'active', updated_at = @now
            FROM picked p
            WHERE a.id = @agent_id
            RETURNING a.id, a.name, a.user_id, a.status, a.created_at, a.updated_at, p.legacy_id, p.ipv4, p.id AS ref, p.port
        ), event AS (
            INSERT INTO outbox_messages (message_id, aggregate_id, message_type, payload, trace_parent, created_at, attempts)
            SELECT @message_id, c.id, @message_type,
                   jsonb_set(jsonb_set(@event_payload, @machine_id_path, to_jsonb(c.ref)), @provider_machine_id_path, to_jsonb(c.legacy_id)),
                   @trace_parent, @now, 0
            FROM claimed c
        )
        SELECT id, name, user_id, status, created_at, updated_at, legacy_id AS machine_id, ipv4 AS machine_ipv4, ref AS machine_ref, port AS machine_port FROM claimed
        """;

    public Task<bool> HoldsMachineAsync(Agent agent, CancellationToken cancellationToken) => Task.FromResult(agent.MachineRef is not null);

    public async Task<HeldMachine?> HeldAsync(Agent agent, CancellationToken cancellationToken) =>
        agent.MachineRef is null
            ? null
            : await db.Machines.AsNoTracking().Where(m => m.Id == agent.MachineRef)
                .Select(m => new HeldMachine(m.LegacyId, m.Type, m.Ipv4, m.Id)).FirstOrDefaultAsync(cancellationToken);

    /// <summary>The claim's text per relation column (two at most), built once: claims are the hot path.</summary>
    private static readonly ConcurrentDictionary<string, string> ClaimSql = new();

    public Task<ClaimedRow?> ClaimPoolAsync(ClaimRequest request, CancellationToken cancellationToken) =>
        ClaimCommands.RunAsync(db, fence, ClaimSql.GetOrAdd(db.AgentRelationColumnName(), ClaimSqlFor), request, async reader =>
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            var (agent, machine) = ClaimCommands.Read(reader);
            agent.MachineRef = machine.MachineRef;
            return new ClaimedRow(agent, machine, reader.GetInt32(reader.GetOrdinal("machine_port")));
        }, cancellationToken);

    public async Task AttachCustomAsync(Agent agent, string customMachineId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var machine = await db.Machines.FirstAsync(m => m.Type == MachineTypes.Custom && m.LegacyId == customMachineId, cancellationToken);
        machine.Status = MachineStatus.InUse;
        machine.LastSeenAt = now;
        agent.MachineRef = machine.Id;
        agent.Status = AgentStatus.Active;
        agent.UpdatedAt = now;
    }

    public async Task<HeldMachine> DetachAsync(Agent agent, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var held = await HeldAsync(agent, cancellationToken)
            ?? throw new InvalidOperationException($"Agent {agent.Id} holds no machine.");
        var machines = db.Machines.Where(m => m.Id == held.MachineRef);
        agent.MachineRef = null;
        agent.Status = AgentStatus.Idle;
        agent.UpdatedAt = now;
        // The relation goes first: the Machine row of a released pool server is removed (or kept as a tombstone for
        // its snapshots), as its legacy copies were.
        await db.SaveChangesAsync(cancellationToken);
        if (held.MachineType == MachineTypes.Hetzner)
        {
            await MachineRetirement.RetireAsync(db, held.MachineRef!, cancellationToken);
        }
        else
        {
            await machines.ExecuteUpdateAsync(s => s.SetProperty(m => m.Status, MachineStatus.Offline).SetProperty(m => m.LastSeenAt, now), cancellationToken);
        }

        db.Enqueue(agent.Id, new MachineReleased { AgentId = agent.Id, MachineId = held.MachineId, MachineType = held.MachineType, ReleasedAt = now });
        return held;
    }

    public Task<string?> HetznerChildLinkAsync(string providerId, CancellationToken cancellationToken) =>
        db.Machines.IgnoreQueryFilters() // a server destroyed meanwhile is a tombstone: the child still links to it
            .Where(m => m.Type == MachineTypes.Hetzner && m.LegacyId == providerId).Select(m => (string?)m.Id).FirstOrDefaultAsync(cancellationToken);

    public Task<MachineHolder?> HolderAsync(string machineId, CancellationToken cancellationToken) =>
        db.Machines.AsNoTracking()
            .Where(m => m.LegacyId == machineId && m.CurrentAgent != null)
            .Select(m => new MachineHolder(m.CurrentAgent!.Id, m.LegacyId, m.Id, m.SharedKey))
            .FirstOrDefaultAsync(cancellationToken);

    public async Task<bool> LockHolderAsync(MachineHolder holder, CancellationToken cancellationToken)
    {
        if (holder.MachineRef is null)
        {
            return false;
        }

        // The relation's column name comes from the EF model, never from input; the values are parameters.
        var sql = $"SELECT 1 AS \"Value\" FROM agents WHERE id = @agent AND {db.AgentRelationColumnName()} = @machine FOR SHARE";
        return await db.Database.SqlQueryRaw<int>(sql, new NpgsqlParameter("agent", holder.AgentId), new NpgsqlParameter("machine", holder.MachineRef))
            .AnyAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<MachineHolder>> SilentAsync(DateTimeOffset cutoff, int limit, CancellationToken cancellationToken) =>
        await db.Agents.AsNoTracking()
            .Where(a => a.MachineRef != null && (a.Status == AgentStatus.Active || a.Status == AgentStatus.Unhealthy))
            .Select(a => new { Agent = a, Machine = a.Machine! })
            .Where(x => (db.MachineHealthChecks.Where(h => h.AgentId == x.Agent.Id && h.MachineRef == x.Machine.Id)
                    .Max(h => (DateTimeOffset?)h.CheckedAt) ?? x.Agent.UpdatedAt) < cutoff)
            .OrderBy(x => x.Agent.Id)
            .Take(limit)
            .Select(x => new MachineHolder(x.Agent.Id, x.Machine.LegacyId, x.Machine.Id, x.Machine.SharedKey))
            .ToListAsync(cancellationToken);
}
