using FleetAspire.Agents.MachineTransition;
using Microsoft.EntityFrameworkCore.Storage;
using System.Diagnostics;
using System.Security.Claims;
using FleetAspire.Contracts.Pool;
using FleetAspire.Data;
using FleetAspire.Data.MachineTransition;
using FleetAspire.Data.Assignments;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Outbox;
using FleetAspire.Messaging;
using FleetAspire.Names;
using FleetAspire.ServiceDefaults.Auth;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;

namespace FleetAspire.Agents.Application;

public enum ReleaseOutcome
{
    Released,
    AgentNotFound,
    NoMachine,
    AgentDeleting,
}

public enum ClaimOutcome
{
    Claimed,
    AgentNotFound,
    AgentHasMachine,
    PoolEmpty,
}

/// <summary>
/// Claim and release of pool machines. Both touch the pool row and the agent, so both run here, in the calling
/// service, in one transaction on the shared database (docs/adr/0002); the consequences go out as events.
/// </summary>
public sealed class PoolClaims(FleetDbContext db, OutboxSignal outbox, TimeProvider time, AgentMachineStores stores)
{
    private static readonly ActivitySource Activity = new(TelemetryNames.ActivitySource);

    /// <summary>
    /// The whole claim is one statement, committed on its own: it locks the agent (only if it has no machine), takes
    /// the oldest ready pool row with <c>FOR UPDATE SKIP LOCKED</c>, deletes it, copies its fields onto the agent,
    /// writes the <see cref="MachineClaimed"/> outbox row and returns the agent.
    /// </summary>
    /// <remarks>
    /// Concurrent claimers skip each other's pool rows instead of queueing; a second claim for the same agent waits
    /// on the agent's row lock and then finds it no longer free. So no machine goes to two agents and no agent gets
    /// two machines. One statement means one round trip and one commit: round trips, not rows, are what a claim
    /// costs. The event payload is built here in SQL; <c>Claim_writes_a_MachineClaimed_event_the_contract_can_read</c>
    /// pins it to the contract record.
    /// </remarks>
    private const string ClaimSql = """
        WITH agent AS (
            SELECT id FROM agents
            WHERE id = @agent_id AND machine_id IS NULL AND (@is_operator OR user_id = @user_id)
            FOR UPDATE
        ), picked AS (
            DELETE FROM parked_machines
            WHERE id = (
                SELECT id FROM parked_machines
                WHERE status = 'ready' AND EXISTS (SELECT 1 FROM agent)
                ORDER BY created_at, id
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
                      a.machine_type, p.id AS parked_id
        ), event AS (
            INSERT INTO outbox_messages (message_id, aggregate_id, message_type, payload, trace_parent, created_at, attempts)
            SELECT @message_id, c.id, @message_type,
                   jsonb_build_object('agentId', c.id, 'parkedMachineId', c.parked_id,
                                      'providerMachineId', c.machine_id, 'claimedAt', @now),
                   @trace_parent, @now, 0
            FROM claimed c
        )
        SELECT id, name, user_id, status, created_at, updated_at, machine_id, machine_ipv4, machine_type,
               fleet_machine_id('hetzner', machine_id) FROM claimed
        """;

    public async Task<(ClaimOutcome Outcome, Agent? Agent, AgentMachine? Machine)> ClaimAsync(ClaimsPrincipal caller, string agentId, CancellationToken cancellationToken)
    {
        using var span = Activity.StartActivity("pool claim");
        var isOperator = caller.IsOperator();
        var userId = caller.UserId();
        // A transaction of its own although the claim is one statement: every write passes the migration's epoch
        // fence and, in the dual-write phases, writes Machine before it commits (MachineTransition/Modes).
        Agent? claimed = null;
        string? derivedId = null;
        await using (var tx = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            var connection = (NpgsqlConnection)db.Database.GetDbConnection();
            await using (var command = new NpgsqlCommand(ClaimSql, connection, (NpgsqlTransaction)tx.GetDbTransaction()))
            {
                command.Parameters.Add(new NpgsqlParameter<string>("agent_id", NpgsqlDbType.Text) { TypedValue = agentId });
                command.Parameters.Add(new NpgsqlParameter<string>("user_id", NpgsqlDbType.Text) { TypedValue = userId });
                command.Parameters.Add(new NpgsqlParameter<bool>("is_operator", NpgsqlDbType.Boolean) { TypedValue = isOperator });
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", NpgsqlDbType.TimestampTz) { TypedValue = time.GetUtcNow() });
                command.Parameters.Add(new NpgsqlParameter<Guid>("message_id", NpgsqlDbType.Uuid) { TypedValue = Guid.CreateVersion7() });
                command.Parameters.Add(new NpgsqlParameter<string>("message_type", NpgsqlDbType.Text) { TypedValue = typeof(MachineClaimed).FullName! });
                command.Parameters.Add(new NpgsqlParameter("trace_parent", NpgsqlDbType.Text) { Value = (object?)System.Diagnostics.Activity.Current?.Id ?? DBNull.Value });
                // Prepared statements outlive the pooled connection, so after the first claim on a physical connection
                // this is a lookup, and PostgreSQL skips parsing and planning the statement.
                await command.PrepareAsync(cancellationToken);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                if (await reader.ReadAsync(cancellationToken))
                {
                    claimed = new Agent
                    {
                        Id = reader.GetString(0),
                        Name = reader.GetString(1),
                        UserId = reader.GetString(2),
                        Status = reader.GetString(3),
                        CreatedAt = reader.GetFieldValue<DateTimeOffset>(4),
                        UpdatedAt = reader.GetFieldValue<DateTimeOffset>(5),
                        MachineId = reader.GetString(6),
                        MachineIpv4 = reader.IsDBNull(7) ? null : reader.GetString(7),
                        MachineType = reader.GetString(8),
                    };
                    derivedId = reader.GetString(9);
                }
            }

            await tx.CommitAsync(cancellationToken);
        }

        if (claimed is not null)
        {
            outbox.Notify();
            span?.SetTag("fleet.claim.outcome", "claimed");
            var machine = await (await stores.CurrentAsync()).ClaimedAsync(
                new ClaimedMachine(claimed.Id, derivedId!, claimed.MachineId!, claimed.MachineIpv4), cancellationToken);
            return (ClaimOutcome.Claimed, claimed, machine);
        }

        // Nothing was claimed: say why. This read only explains; it decides nothing.
        var agent = await db.Agents.AsNoTracking()
            .Where(a => isOperator || a.UserId == userId)
            .FirstOrDefaultAsync(a => a.Id == agentId, cancellationToken);
        var outcome = agent is null ? ClaimOutcome.AgentNotFound
            : agent.MachineId is not null ? ClaimOutcome.AgentHasMachine
            : ClaimOutcome.PoolEmpty;
        span?.SetTag("fleet.claim.outcome", outcome.ToString());
        return (outcome, agent, null);
    }

    /// <summary>Clears the agent's machine fields in one transaction; the pool destroys a hetzner server on the event.</summary>
    public async Task<(ReleaseOutcome Outcome, Agent? Agent)> ReleaseAsync(ClaimsPrincipal caller, string agentId, CancellationToken cancellationToken)
    {
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var agent = await MachineAssignments.LockAgentAsync(db, agentId, caller.OwnerFilter(), cancellationToken);
        if (agent is null)
        {
            return (ReleaseOutcome.AgentNotFound, null);
        }

        if (agent.Status == AgentStatus.Deleting)
        {
            // The deletion flow owns the machine now: it is released after the final snapshot.
            return (ReleaseOutcome.AgentDeleting, agent);
        }

        if (agent.MachineId is null)
        {
            return (ReleaseOutcome.NoMachine, agent);
        }

        await MachineAssignments.DetachAsync(db, agent, time.GetUtcNow(), cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        outbox.Notify();
        return (ReleaseOutcome.Released, agent);
    }

    /// <summary>Connection info for the agent's owner only (operators included only when they own it).</summary>
    public async Task<(bool Visible, ConnectionDetails? Details)> ConnectionInfoAsync(ClaimsPrincipal caller, string agentId, CancellationToken cancellationToken)
    {
        var userId = caller.UserId();
        if (!await db.Agents.AnyAsync(a => a.Id == agentId && a.UserId == userId, cancellationToken))
        {
            return (false, null);
        }

        return (true, await (await stores.CurrentAsync()).ConnectionAsync(agentId, cancellationToken));
    }
}

public sealed record ConnectionDetails(string Ipv4, int Port, string SharedKey);
