using FleetAspire.Data.Entities;

namespace FleetAspire.Agents.Application;

/// <summary>
/// Where the agents service reads an agent's machine. Two implementations: <see cref="AgentMachineStore"/>
/// (the steady state: the Machine relation) and the legacy fields one under <c>MachineTransition/</c>; which one runs
/// is decided by the migration phase, in one place (<c>AgentMachineStores</c>).
/// </summary>
public interface IAgentMachineStore
{
    /// <summary>Machines of the given agents that hold one, by agent id.</summary>
    Task<IReadOnlyDictionary<string, AgentMachine>> ForAgentsAsync(IReadOnlyCollection<string> agentIds, CancellationToken cancellationToken);

    /// <summary>How the agent's owner reaches its machine, or null when it holds none.</summary>
    Task<ConnectionDetails?> ConnectionAsync(string agentId, CancellationToken cancellationToken);

    /// <summary>Agents holding a machine of <paramref name="machineType"/>.</summary>
    IQueryable<Agent> WhereMachineType(IQueryable<Agent> agents, string machineType);
}
