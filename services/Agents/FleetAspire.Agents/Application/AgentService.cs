using System.Security.Claims;
using FleetAspire.Agents.Apis;
using FleetAspire.Contracts.Pool;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Outbox;
using FleetAspire.Messaging;
using FleetAspire.ServiceDefaults.Auth;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Agents.Application;

/// <summary>Agent lifecycle: create, read, list, delete. Ownership is checked here, once, for every read and write.</summary>
public sealed class AgentService(FleetDbContext db, OutboxSignal outbox, TimeProvider time)
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
            query = query.Where(a => a.MachineType == machineType);
        }

        if (after is not null)
        {
            query = query.Where(a => string.Compare(a.Id, after) > 0);
        }

        // One row more than asked tells whether another page exists without a count query.
        var rows = await query.OrderBy(a => a.Id).Take(limit + 1).ToListAsync(cancellationToken);
        var items = rows.Take(limit).Select(AgentResponse.From).ToList();
        return new PageResponse<AgentResponse>(items, rows.Count > limit ? items[^1].Id : null);
    }

    /// <summary>
    /// Deletes the agent; a machine it holds is released in the same transaction and the release event goes out
    /// through the outbox, so the pool destroys the server even if this process dies right after the commit.
    /// </summary>
    public async Task<bool> DeleteAsync(ClaimsPrincipal caller, string agentId, CancellationToken cancellationToken)
    {
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var agent = await LockVisibleAsync(caller, agentId, cancellationToken);
        if (agent is null)
        {
            return false;
        }

        if (agent.MachineId is not null)
        {
            await PoolClaims.DetachMachineAsync(db, agent, time.GetUtcNow(), cancellationToken);
        }

        db.Agents.Remove(agent);
        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        outbox.Notify();
        return true;
    }

    /// <summary>Loads and row-locks an agent the caller may change, inside the caller's transaction.</summary>
    internal Task<Agent?> LockVisibleAsync(ClaimsPrincipal caller, string agentId, CancellationToken cancellationToken) =>
        LockAsync(db, caller, agentId, cancellationToken);

    internal static Task<Agent?> LockAsync(FleetDbContext db, ClaimsPrincipal caller, string agentId, CancellationToken cancellationToken)
    {
        var isOperator = caller.IsOperator();
        var userId = caller.UserId();
        return db.Agents
            .FromSql($"SELECT * FROM agents WHERE id = {agentId} FOR UPDATE")
            .Where(a => isOperator || a.UserId == userId)
            .FirstOrDefaultAsync(cancellationToken);
    }

    private IQueryable<Agent> Visible(ClaimsPrincipal caller)
    {
        if (caller.IsOperator())
        {
            return db.Agents;
        }

        var userId = caller.UserId();
        return db.Agents.Where(a => a.UserId == userId);
    }
}
