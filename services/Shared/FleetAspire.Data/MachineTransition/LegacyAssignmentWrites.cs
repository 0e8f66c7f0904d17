using FleetAspire.Contracts.Pool;
using FleetAspire.Data.Entities;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.Outbox;
using FleetAspire.Data.Writes;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Data.MachineTransition;

/// <summary>
/// Today's model: the agent carries copies of its machine's fields and a custom machine points back at its agent;
/// a claim moves a pool row onto the agent. In the dual-write phases the commit writes the same change to Machine.
/// </summary>
public sealed class LegacyAssignmentWrites(FleetDbContext db, IBatchFence fence) : IAssignmentWrites
{
    /// <summary>
    /// The whole claim is one statement: it locks the agent (only if it has no machine), takes the oldest ready pool
    /// row with <c>FOR UPDATE SKIP LOCKED</c>, deletes it, copies its fields onto the agent, writes the
    /// <see cref="MachineClaimed"/> outbox row and returns the agent.
    /// </summary>
    /// <remarks>
    /// Concurrent claimers skip each other's pool rows instead of queueing; a second claim for the same agent waits
    /// on the agent's row lock and then finds it no longer free. So no machine goes to two agents and no agent gets
    /// two machines. One statement in one batch (ClaimCommands) means one round trip and one commit: round trips, not rows, are what a claim
    /// costs. The event is the serializer's document with the chosen machine set in SQL (<see cref="ClaimedEvent"/>);
    /// <c>Claim_writes_a_MachineClaimed_event_the_contract_can_read</c> pins it to the contract record.
    /// </remarks>
    private const string ClaimSql = $$"""
        WITH agent AS (
            SELECT id FROM agents
            WHERE id = @agent_id AND machine_id IS NULL AND (@is_operator OR user_id = @user_id)
            FOR UPDATE
        ), picked AS (
            DELETE FROM parked_machines
            WHERE id = (
                SELECT p.id FROM parked_machines p
                WHERE p.status = 'ready' AND EXISTS (SELECT 1 FROM agent)
                  -- Only a row the Machine model can hold (the backfill's judgement, DirtyClasses): a dirty pool row
                  -- handed out would make the claiming agent dirty, and its machine would vanish at MachineRead.
                  AND p.machine_id IS NOT NULL AND p.ipv4 ~ '{{BackfillSql.Ipv4Pattern}}' AND coalesce(p.shared_key, '') <> ''
                  -- coalesce keeps machine_type out of index choice: with stale statistics (claims turn idle agents
                  -- into hetzner ones faster than autoanalyze) the planner otherwise probes by type and filters
                  -- thousands of agents per candidate row (14.7 ms against 0.15 ms by machine_id, ADR 0019).
                  AND (SELECT count(*) FROM agents h WHERE h.machine_id = p.machine_id AND coalesce(h.machine_type, '') = 'hetzner') = 0
                -- The index's order (status, created_at): the first live row that passes is the answer. A tiebreak
                -- on id would add a sort that reads 32 candidates (and runs the checks above on each) per claim.
                ORDER BY p.created_at
                LIMIT 1
                FOR UPDATE SKIP LOCKED)
            RETURNING id, machine_id, ipv4, shared_key
        ), claimed AS (
            UPDATE agents a
            SET machine_id = p.machine_id, machine_ipv4 = p.ipv4, machine_shared_key = p.shared_key,
                machine_type = 'hetzner', status = 'active', updated_at = @now
            FROM picked p
            WHERE a.id = @agent_id
            RETURNING a.id, a.name, a.user_id, a.status, a.created_at, a.updated_at, a.machine_id, a.machine_ipv4,
                      a.machine_type
        ), event AS (
            INSERT INTO outbox_messages (message_id, aggregate_id, message_type, payload, trace_parent, created_at, attempts)
            SELECT @message_id, c.id, @message_type,
                   jsonb_set(jsonb_set(@event_payload, @machine_id_path, to_jsonb(fleet_machine_id('hetzner', c.machine_id))),
                             @provider_machine_id_path, to_jsonb(c.machine_id)),
                   @trace_parent, @now, 0
            FROM claimed c
        )
        SELECT id, name, user_id, status, created_at, updated_at, machine_id, machine_ipv4,
               fleet_machine_id('hetzner', machine_id) AS machine_ref FROM claimed
        """;

    public Task<bool> HoldsMachineAsync(Agent agent, CancellationToken cancellationToken) => Task.FromResult(agent.MachineId is not null);

    public Task<HeldMachine?> HeldAsync(Agent agent, CancellationToken cancellationToken) =>
        Task.FromResult(agent.MachineId is null
            ? null
            : new HeldMachine(agent.MachineId, agent.MachineType ?? MachineTypes.Hetzner, agent.MachineIpv4, null));

    public Task<ClaimedRow?> ClaimPoolAsync(ClaimRequest request, CancellationToken cancellationToken) =>
        ClaimCommands.RunAsync(db, fence, ClaimSql, request, async reader =>
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            var (agent, machine) = ClaimCommands.Read(reader);
            agent.MachineId = machine.MachineId;
            agent.MachineIpv4 = machine.Ipv4;
            agent.MachineType = MachineTypes.Hetzner;
            return new ClaimedRow(agent, machine);
        }, cancellationToken);

    public async Task AttachCustomAsync(Agent agent, string customMachineId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var machine = await db.CustomMachines.FirstAsync(c => c.Id == customMachineId, cancellationToken);
        machine.CurrentAgentId = agent.Id;
        machine.UpdatedAt = now;
        agent.MachineId = machine.Id;
        agent.MachineIpv4 = machine.Ipv4;
        agent.MachineSharedKey = machine.SharedKey;
        agent.MachineType = MachineTypes.Custom;
        agent.Status = AgentStatus.Active;
        agent.UpdatedAt = now;
    }

    /// <summary>Clears the four legacy fields and frees a custom machine's <c>current_agent_id</c>.</summary>
    public async Task<HeldMachine> DetachAsync(Agent agent, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var held = await HeldAsync(agent, cancellationToken) ?? throw new InvalidOperationException($"Agent {agent.Id} holds no machine.");
        if (held.MachineType == MachineTypes.Custom)
        {
            await db.CustomMachines
                .Where(c => c.Id == held.MachineId && c.CurrentAgentId == agent.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(c => c.CurrentAgentId, (string?)null).SetProperty(c => c.UpdatedAt, now), cancellationToken);
        }

        agent.MachineId = null;
        agent.MachineIpv4 = null;
        agent.MachineSharedKey = null;
        agent.MachineType = null;
        agent.Status = AgentStatus.Idle;
        agent.UpdatedAt = now;
        db.Enqueue(agent.Id, new MachineReleased { AgentId = agent.Id, MachineId = held.MachineId, MachineType = held.MachineType, ReleasedAt = now });
        return held;
    }

    /// <summary>The key as the holding agent carries it (today's model copies it onto the agent).</summary>
    public Task<string?> HetznerChildLinkAsync(string providerId, CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    public Task<MachineHolder?> HolderAsync(string machineId, CancellationToken cancellationToken) =>
        db.Agents.AsNoTracking()
            .Where(a => a.MachineId == machineId && a.MachineSharedKey != null)
            .Select(a => new MachineHolder(a.Id, a.MachineId!, null, a.MachineSharedKey!))
            .FirstOrDefaultAsync(cancellationToken);

    public async Task<bool> LockHolderAsync(MachineHolder holder, CancellationToken cancellationToken) =>
        await db.Database.SqlQuery<int>($"SELECT 1 AS \"Value\" FROM agents WHERE id = {holder.AgentId} AND machine_id = {holder.MachineId} FOR SHARE")
            .AnyAsync(cancellationToken);

    public async Task<IReadOnlyList<MachineHolder>> SilentAsync(DateTimeOffset cutoff, int limit, CancellationToken cancellationToken) =>
        await db.Database.SqlQuery<MachineHolder>($"""
            SELECT a.id AS agent_id, a.machine_id, NULL::text AS machine_ref, coalesce(a.machine_shared_key, '') AS shared_key
            FROM agents a
            WHERE a.machine_id IS NOT NULL AND a.status IN ('active', 'unhealthy')
              AND coalesce((SELECT max(h.checked_at) FROM machine_health_checks h
                            WHERE h.machine_id = a.machine_id AND h.agent_id = a.id), a.updated_at) < {cutoff}
            ORDER BY a.id
            LIMIT {limit}
            """).ToListAsync(cancellationToken);
}
