using FleetAspire.Agents.Application;
using FleetAspire.Data.MachineTransition.Modes;

namespace FleetAspire.Agents.MachineTransition;

/// <summary>The one place in the agents service that picks where machine data is read from, by the migration phase.</summary>
public sealed class AgentMachineStores(TransitionModeResolver modes, LegacyAgentMachineStore legacy, MachineAgentMachineStore machine)
{
    public async Task<IAgentMachineStore> CurrentAsync() => (await modes.CurrentAsync()).ReadMachine ? machine : legacy;
}
