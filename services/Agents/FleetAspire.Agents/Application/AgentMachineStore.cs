using FleetAspire.Data;
using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Agents.Application;

/// <summary>The steady state: an agent's machine is the <c>Machine</c> its relation points to.</summary>
public sealed class AgentMachineStore(FleetDbContext db) : IAgentMachineStore
{
    public async Task<IReadOnlyDictionary<string, AgentMachine>> ForAgentsAsync(IReadOnlyCollection<string> agentIds, CancellationToken cancellationToken)
    {
        var rows = await db.Agents.AsNoTracking()
            .Where(a => agentIds.Contains(a.Id))
            .Join(db.Machines, a => a.MachineRef, m => m.Id, (a, m) => new { AgentId = a.Id, Machine = m })
            .ToListAsync(cancellationToken);
        return rows.ToDictionary(r => r.AgentId, r => new AgentMachine(r.Machine.Id, r.Machine.LegacyId,
            r.Machine.Type, r.Machine.HetznerMachineId, r.Machine.Ipv4, r.Machine.Port, r.Machine.Status));
    }

    public async Task<ConnectionDetails?> ConnectionAsync(string agentId, CancellationToken cancellationToken) =>
        await db.Agents.AsNoTracking()
            .Where(a => a.Id == agentId)
            .Join(db.Machines, a => a.MachineRef, m => m.Id, (a, m) => new ConnectionDetails(m.Ipv4, m.Port, m.SharedKey))
            .FirstOrDefaultAsync(cancellationToken);

    public ValueTask<IQueryable<Agent>> WhereMachineTypeAsync(IQueryable<Agent> agents, string machineType) =>
        ValueTask.FromResult(agents.Where(a => db.Machines.Any(m => m.Id == a.MachineRef && m.Type == machineType)));
}
