using FleetAspire.Data.Entities;

namespace FleetAspire.Agents.Application;

/// <summary>Where the agents service reads an agent's machine.</summary>
public interface IAgentMachineStore
{
    /// <summary>Machines of the given agents that hold one, by agent id.</summary>
    Task<IReadOnlyDictionary<string, AgentMachine>> ForAgentsAsync(IReadOnlyCollection<string> agentIds, CancellationToken cancellationToken);

    /// <summary>How the agent's owner reaches its machine, or null when it holds none.</summary>
    Task<ConnectionDetails?> ConnectionAsync(string agentId, CancellationToken cancellationToken);

    /// <summary>Agents holding a machine of <paramref name="machineType"/>.</summary>
    /// <remarks>Asynchronous because the filter's shape may depend on where machines are stored, which can take a read to learn.</remarks>
    ValueTask<IQueryable<Agent>> WhereMachineTypeAsync(IQueryable<Agent> agents, string machineType);
}
