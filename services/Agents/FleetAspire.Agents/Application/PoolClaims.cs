using System.Diagnostics;
using System.Security.Claims;
using FleetAspire.Contracts.Pool;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Outbox;
using FleetAspire.Messaging;
using FleetAspire.Names;
using FleetAspire.ServiceDefaults.Auth;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace FleetAspire.Agents.Application;

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
public sealed class PoolClaims(FleetDbContext db, OutboxSignal outbox, TimeProvider time)
{
    private static readonly ActivitySource Activity = new(TelemetryNames.ActivitySource);

    /// <summary>
    /// One statement locks the agent (only if it has no machine), takes the oldest ready pool row with
    /// <c>FOR UPDATE SKIP LOCKED</c>, deletes it and copies its fields onto the agent. Concurrent claimers skip each
    /// other's rows instead of queueing; a second claim for the same agent waits for the first and then finds the
    /// agent no longer free. So no machine goes to two agents and no agent gets two machines.
    /// </summary>
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
        )
        UPDATE agents a
        SET machine_id = p.machine_id, machine_ipv4 = p.ipv4, machine_shared_key = p.shared_key,
            machine_type = 'hetzner', status = 'active', updated_at = @now
        FROM picked p
        WHERE a.id = @agent_id
        RETURNING p.id, p.machine_id
        """;

    public async Task<(ClaimOutcome Outcome, Agent? Agent)> ClaimAsync(ClaimsPrincipal caller, string agentId, CancellationToken cancellationToken)
    {
        using var span = Activity.StartActivity("pool claim");
        var now = time.GetUtcNow();
        await using (var tx = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            var connection = (NpgsqlConnection)db.Database.GetDbConnection();
            await using var command = new NpgsqlCommand(ClaimSql, connection, (NpgsqlTransaction)tx.GetDbTransaction());
            command.Parameters.AddWithValue("agent_id", agentId);
            command.Parameters.AddWithValue("user_id", caller.UserId());
            command.Parameters.AddWithValue("is_operator", caller.IsOperator());
            command.Parameters.AddWithValue("now", now);

            string? parkedId = null, providerId = null;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                if (await reader.ReadAsync(cancellationToken))
                {
                    parkedId = reader.GetString(0);
                    providerId = reader.GetString(1);
                }
            }

            if (parkedId is not null)
            {
                db.Enqueue(agentId, new MachineClaimed
                {
                    AgentId = agentId,
                    ParkedMachineId = parkedId,
                    ProviderMachineId = providerId!,
                    ClaimedAt = now,
                });
                await db.SaveChangesAsync(cancellationToken);
                await tx.CommitAsync(cancellationToken);
                outbox.Notify();
                span?.SetTag("fleet.claim.outcome", "claimed");
                return (ClaimOutcome.Claimed, await db.Agents.AsNoTracking().FirstAsync(a => a.Id == agentId, cancellationToken));
            }
        }

        // Nothing was claimed: say why. This read is outside the transaction; it only explains, it decides nothing.
        var isOperator = caller.IsOperator();
        var userId = caller.UserId();
        var agent = await db.Agents.AsNoTracking()
            .Where(a => isOperator || a.UserId == userId)
            .FirstOrDefaultAsync(a => a.Id == agentId, cancellationToken);
        var outcome = agent is null ? ClaimOutcome.AgentNotFound
            : agent.MachineId is not null ? ClaimOutcome.AgentHasMachine
            : ClaimOutcome.PoolEmpty;
        span?.SetTag("fleet.claim.outcome", outcome.ToString());
        return (outcome, agent);
    }

    /// <summary>Clears the agent's machine fields in one transaction; the pool destroys a hetzner server on the event.</summary>
    public async Task<(bool Found, Agent? Agent)> ReleaseAsync(ClaimsPrincipal caller, string agentId, CancellationToken cancellationToken)
    {
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var agent = await AgentService.LockAsync(db, caller, agentId, cancellationToken);
        if (agent is null)
        {
            return (false, null);
        }

        if (agent.MachineId is null)
        {
            return (true, null);
        }

        await DetachMachineAsync(db, agent, time.GetUtcNow(), cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        outbox.Notify();
        return (true, agent);
    }

    /// <summary>
    /// Detaches the agent's machine inside the caller's transaction: clears the four legacy fields, frees a custom
    /// machine's <c>current_agent_id</c>, and enqueues <see cref="MachineReleased"/>. The caller saves and commits.
    /// </summary>
    internal static async Task DetachMachineAsync(FleetDbContext db, Agent agent, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var machineId = agent.MachineId!;
        var machineType = agent.MachineType ?? MachineTypes.Hetzner;
        if (machineType == MachineTypes.Custom)
        {
            await db.CustomMachines
                .Where(c => c.Id == machineId && c.CurrentAgentId == agent.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(c => c.CurrentAgentId, (string?)null).SetProperty(c => c.UpdatedAt, now), cancellationToken);
        }

        agent.MachineId = null;
        agent.MachineIpv4 = null;
        agent.MachineSharedKey = null;
        agent.MachineType = null;
        agent.Status = AgentStatus.Idle;
        agent.UpdatedAt = now;
        db.Enqueue(agent.Id, new MachineReleased
        {
            AgentId = agent.Id,
            MachineId = machineId,
            MachineType = machineType,
            ReleasedAt = now,
        });
    }

    /// <summary>Connection info for the agent's owner only (operators included only when they own it).</summary>
    public async Task<(bool Visible, ConnectionDetails? Details)> ConnectionInfoAsync(ClaimsPrincipal caller, string agentId, CancellationToken cancellationToken)
    {
        var userId = caller.UserId();
        var agent = await db.Agents.AsNoTracking().FirstOrDefaultAsync(a => a.Id == agentId && a.UserId == userId, cancellationToken);
        if (agent is null)
        {
            return (false, null);
        }

        if (agent.MachineId is null || agent.MachineIpv4 is null || agent.MachineSharedKey is null)
        {
            return (true, null);
        }

        var port = agent.MachineType == MachineTypes.Custom
            ? await db.CustomMachines.Where(c => c.Id == agent.MachineId).Select(c => (int?)c.Port).FirstOrDefaultAsync(cancellationToken)
            : null;
        return (true, new ConnectionDetails(agent.MachineIpv4, port ?? CustomMachine.DefaultPort, agent.MachineSharedKey));
    }
}

public sealed record ConnectionDetails(string Ipv4, int Port, string SharedKey);
