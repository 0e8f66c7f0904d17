using FleetAspire.Agents.Application;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Names;

namespace FleetAspire.Agents.MachineTransition;

internal static class AgentsTransition
{
    /// <summary>
    /// The agents service's part in the migration: the phase machinery, and its decorator registered over the
    /// steady-state store. Called before messaging: consumers' writes pass the same fence and dual-write as requests.
    /// </summary>
    public static void AddAgentsTransition(this IHostApplicationBuilder builder)
    {
        builder.AddMachineTransition(ResourceNames.Agents);
        // Over the steady-state registration (made before this): the phase picks the side per read.
        builder.Services.AddScoped<LegacyAgentMachineStore>();
        builder.Services.AddScoped<AgentMachineStore>();
        builder.Services.AddScoped<IAgentMachineStore, PhaseAgentMachineStore>();
    }
}
