using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Data.Writes;

/// <summary>Row locks shared by every write path, whatever the phase: the agents table is common to both models.</summary>
public static class AgentLocks
{
    /// <summary>Locks an agent row for the rest of the caller's transaction; null if missing or not visible.</summary>
    public static Task<Agent?> LockAgentAsync(FleetDbContext db, string agentId, string? ownerFilter, CancellationToken cancellationToken) =>
        db.Agents
            .FromSql($"SELECT * FROM agents WHERE id = {agentId} FOR UPDATE")
            .Where(a => ownerFilter == null || a.UserId == ownerFilter)
            .FirstOrDefaultAsync(cancellationToken);
}
