using System.Security.Claims;
using FleetAspire.Agents.Apis;
using FleetAspire.Contracts.Agents;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Outbox;
using FleetAspire.Data.Writes;
using FleetAspire.Messaging;
using FleetAspire.ServiceDefaults.Auth;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Agents.Application;

/// <summary>Agent lifecycle: create, read, list, delete. Ownership is checked here, once, for every read and write.</summary>
public sealed class AgentService(FleetDbContext db, OutboxSignal outbox, TimeProvider time, IAgentMachineStore machines, IAssignmentWrites assignments)
{
    public async Task<Agent> CreateAsync(string userId, string name, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var agent = new Agent
        {
            Id = EntityIds.New(EntityIds.Agent),
            Name = name.Trim(),
            UserId = userId,
            Status = AgentStatus.Idle,
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.Agents.Add(agent);
        await db.SaveChangesAsync(cancellationToken);
        return agent;
    }

    /// <summary>The agent if the caller may see it: its owner, or an operator. Anyone else gets null (a 404).</summary>
    public Task<Agent?> FindVisibleAsync(ClaimsPrincipal caller, string agentId, CancellationToken cancellationToken) =>
        Visible(caller).AsNoTracking().FirstOrDefaultAsync(a => a.Id == agentId, cancellationToken);

    /// <summary>The response for one agent, with the machine it holds.</summary>
    public async Task<AgentResponse> ResponseAsync(Agent agent, CancellationToken cancellationToken)
    {
        var held = await machines.ForAgentsAsync([agent.Id], cancellationToken);
        return AgentResponse.From(agent, held.GetValueOrDefault(agent.Id));
    }

    public async Task<PageResponse<AgentResponse>> ListAsync(
        ClaimsPrincipal caller, string? ownerFilter, string? machineType, string? after, int limit, CancellationToken cancellationToken)
    {
        var query = Visible(caller).AsNoTracking();
        if (ownerFilter is not null)
        {
            query = query.Where(a => a.UserId == ownerFilter);
        }

        if (machineType is not null)
        {
            query = await machines.WhereMachineTypeAsync(query, machineType);
        }

        if (after is not null)
        {
            query = query.Where(a => string.Compare(a.Id, after) > 0);
        }

        // One row more than asked tells whether another page exists without a count query.
        var rows = await query.OrderBy(a => a.Id).Take(limit + 1).ToListAsync(cancellationToken);
        var page = rows.Take(limit).ToList();
        var ids = page.Select(a => a.Id).ToList();
        var held = await machines.ForAgentsAsync(ids, cancellationToken);
        var items = page.Select(a => AgentResponse.From(a, held.GetValueOrDefault(a.Id))).ToList();
        return new PageResponse<AgentResponse>(items, rows.Count > limit ? items[^1].Id : null);
    }

    /// <summary>
    /// An agent without a machine is deleted at once. One with a machine is marked <c>deleting</c> and
    /// <see cref="AgentDeletionRequested"/> goes out: the final snapshot is taken before the machine is released,
    /// and <c>FinalSnapshotTakenConsumer</c> then releases and deletes the agent. Asking again re-sends the request
    /// (every step downstream is idempotent), which is how a stuck deletion is retried.
    /// </summary>
    public async Task<DeleteOutcome> DeleteAsync(ClaimsPrincipal caller, string agentId, CancellationToken cancellationToken)
    {
        var outcome = await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            var agent = await AgentLocks.LockAgentAsync(db, agentId, caller.OwnerFilter(), cancellationToken);
            if (agent is null)
            {
                return DeleteOutcome.NotFound;
            }

            var held = await assignments.HeldAsync(agent, cancellationToken);
            if (held is null)
            {
                db.Agents.Remove(agent);
                await db.SaveChangesAsync(cancellationToken);
                await tx.CommitAsync(cancellationToken);
                return DeleteOutcome.Deleted;
            }

            var now = time.GetUtcNow();
            agent.Status = AgentStatus.Deleting;
            agent.UpdatedAt = now;
            db.Enqueue(agent.Id, new AgentDeletionRequested
            {
                AgentId = agent.Id,
                UserId = agent.UserId,
                MachineId = held.MachineId,
                MachineType = held.MachineType,
                RequestedAt = now,
            });
            await db.SaveChangesAsync(cancellationToken);
            await tx.CommitAsync(cancellationToken);
            return DeleteOutcome.Accepted;
        });
        if (outcome == DeleteOutcome.Accepted)
        {
            outbox.Notify();
        }

        return outcome;
    }

    private IQueryable<Agent> Visible(ClaimsPrincipal caller)
    {
        var owner = caller.OwnerFilter();
        return owner is null ? db.Agents : db.Agents.Where(a => a.UserId == owner);
    }
}
