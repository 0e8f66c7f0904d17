using FleetAspire.Agents.Application;
using FleetAspire.Agents.Consumers;
using FleetAspire.Data;
using FleetAspire.Messaging;
using MassTransit;
#if MACHINE_TRANSITION
using FleetAspire.Agents.MachineTransition;
#endif

namespace FleetAspire.Agents;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddFleetDatabase();
        builder.Services.AddScoped<IAgentMachineStore, AgentMachineStore>();
#if MACHINE_TRANSITION
        // Over the storage registered above, and before messaging: consumers' writes pass the same fence and dual-write.
        builder.AddAgentsTransition();
#endif
        builder.AddFleetMessaging(AddEventBusSubscriptions);
        builder.Services.AddScoped<AgentService>();
        builder.Services.AddScoped<PoolClaims>();
    }

    /// <summary>Every event the agents service reacts to.</summary>
    private static void AddEventBusSubscriptions(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<FinalSnapshotTakenConsumer, FinalSnapshotTakenConsumerDefinition>();
        bus.AddConsumer<MachineHealthConsumer, MachineHealthConsumerDefinition>();
    }
}
