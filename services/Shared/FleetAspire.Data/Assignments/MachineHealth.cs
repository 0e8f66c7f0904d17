using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Data.Assignments;

/// <summary>
/// The one definition of "unhealthy": the last <c>threshold</c> checks of an agent's current machine all failed.
/// The machines service uses it to detect transitions; the agents service to set the agent's status from the
/// checks themselves, so that health events delivered twice or out of order still end in the right status.
/// </summary>
public static class MachineHealth
{
    public const string ThresholdConfig = "HealthChecks:FailureThreshold";
    public const int DefaultThreshold = 3;

    public static async Task<bool> IsUnhealthyAsync(FleetDbContext db, string agentId, string machineId, int threshold, CancellationToken cancellationToken)
    {
        var last = await db.MachineHealthChecks.AsNoTracking()
            .Where(h => h.AgentId == agentId && h.MachineId == machineId)
            .OrderByDescending(h => h.CheckedAt).ThenByDescending(h => h.Id)
            .Take(threshold)
            .Select(h => h.Outcome)
            .ToListAsync(cancellationToken);
        return last.Count == threshold && last.All(HealthOutcome.IsFailure);
    }
}
