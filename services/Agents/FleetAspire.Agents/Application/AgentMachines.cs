using FleetAspire.Data.Entities;

namespace FleetAspire.Agents.Application;

/// <summary>The machine an agent holds, as the agents API shows it, whichever representation it was read from.</summary>
/// <param name="Id">The Machine id (derived from the legacy id while the legacy fields are authoritative).</param>
/// <param name="LegacyId">What <c>machineId</c> has always meant: the provider id, or the custom machine's id.</param>
public sealed record AgentMachine(string? Id, string LegacyId, string? Type, string? ProviderId, string? Ipv4, int Port, string Status);

/// <summary>What a claim statement returns about the pool machine it just moved onto an agent.</summary>
public sealed record ClaimedMachine(string AgentId, string MachineId, string ProviderId, string? Ipv4);

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

    /// <summary>The machine a claim just gave an agent, as the authoritative side shows it.</summary>
    ValueTask<AgentMachine?> ClaimedAsync(ClaimedMachine claimed, CancellationToken cancellationToken);

    /// <summary>Agents holding a machine of <paramref name="machineType"/>.</summary>
    IQueryable<Agent> WhereMachineType(IQueryable<Agent> agents, string machineType);
}
