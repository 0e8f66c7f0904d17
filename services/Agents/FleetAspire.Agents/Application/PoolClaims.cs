using System.Diagnostics;
using System.Security.Claims;
using FleetAspire.Contracts.Pool;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Writes;
using FleetAspire.Messaging;
using FleetAspire.Names;
using FleetAspire.ServiceDefaults.Auth;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Agents.Application;

/// <summary>
/// Claim and release of pool machines. Both touch the pool row and the agent, so both run here, in the calling
/// service, in one transaction on the shared database (docs/adr/0002); the consequences go out as events.
/// </summary>
public sealed class PoolClaims(FleetDbContext db, OutboxSignal outbox, TimeProvider time, IAgentMachineStore machines, IAssignmentWrites assignments)
{
    private static readonly ActivitySource Activity = new(TelemetryNames.ActivitySource);

    /// <summary>
    /// The claim is one statement sent as one batch, its own implicit transaction (see the storage implementations):
    /// one round trip. While the migration runs, the epoch fence goes first in that batch and, in the dual-write
    /// phases, Machine is written before it commits.
    /// </summary>
    public async Task<(ClaimOutcome Outcome, Agent? Agent, AgentMachine? Machine)> ClaimAsync(ClaimsPrincipal caller, string agentId, CancellationToken cancellationToken)
    {
        using var span = Activity.StartActivity("pool claim");
        var isOperator = caller.IsOperator();
        var userId = caller.UserId();
        var request = new ClaimRequest(agentId, userId, isOperator, time.GetUtcNow(), Guid.CreateVersion7(), System.Diagnostics.Activity.Current?.Id);
        var claimed = await db.Database.CreateExecutionStrategy().ExecuteAsync(() => assignments.ClaimPoolAsync(request, cancellationToken));

        if (claimed is not null)
        {
            outbox.Notify();
            span?.SetTag("fleet.claim.outcome", "claimed");
            // The claim statement returned everything the response shows, in every phase: nothing is read back.
            var held = claimed.Machine;
            var machine = new AgentMachine(held.MachineRef, held.MachineId, MachineTypes.Hetzner, held.MachineId, held.Ipv4, claimed.Port, MachineStatus.InUse);
            return (ClaimOutcome.Claimed, claimed.Agent, machine);
        }

        // Nothing was claimed: say why. This read only explains; it decides nothing.
        var agent = await db.Agents.AsNoTracking()
            .Where(a => isOperator || a.UserId == userId)
            .FirstOrDefaultAsync(a => a.Id == agentId, cancellationToken);
        var outcome = agent is null ? ClaimOutcome.AgentNotFound
            : await assignments.HoldsMachineAsync(agent, cancellationToken) ? ClaimOutcome.AgentHasMachine
            : ClaimOutcome.PoolEmpty;
        span?.SetTag("fleet.claim.outcome", outcome.ToString());
        return (outcome, agent, null);
    }

    /// <summary>Detaches the agent's machine in one transaction; the pool destroys a hetzner server on the event.</summary>
    public async Task<(ReleaseOutcome Outcome, Agent? Agent)> ReleaseAsync(ClaimsPrincipal caller, string agentId, CancellationToken cancellationToken)
    {
        var result = await db.Database.CreateExecutionStrategy().ExecuteAsync<(ReleaseOutcome, Agent?)>(async () =>
        {
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            var agent = await AgentLocks.LockAgentAsync(db, agentId, caller.OwnerFilter(), cancellationToken);
            if (agent is null)
            {
                return (ReleaseOutcome.AgentNotFound, null);
            }

            if (agent.Status == AgentStatus.Deleting)
            {
                // The deletion flow owns the machine now: it is released after the final snapshot.
                return (ReleaseOutcome.AgentDeleting, agent);
            }

            if (!await assignments.HoldsMachineAsync(agent, cancellationToken))
            {
                return (ReleaseOutcome.NoMachine, agent);
            }

            await assignments.DetachAsync(agent, time.GetUtcNow(), cancellationToken);
            await db.SaveChangesAsync(cancellationToken);
            await tx.CommitAsync(cancellationToken);
            return (ReleaseOutcome.Released, agent);
        });
        if (result.Item1 == ReleaseOutcome.Released)
        {
            outbox.Notify();
        }

        return result;
    }

    /// <summary>Connection info for the agent's owner only (operators included only when they own it).</summary>
    public async Task<(bool Visible, ConnectionDetails? Details)> ConnectionInfoAsync(ClaimsPrincipal caller, string agentId, CancellationToken cancellationToken)
    {
        var userId = caller.UserId();
        if (!await db.Agents.AnyAsync(a => a.Id == agentId && a.UserId == userId, cancellationToken))
        {
            return (false, null);
        }

        return (true, await machines.ConnectionAsync(agentId, cancellationToken));
    }
}
