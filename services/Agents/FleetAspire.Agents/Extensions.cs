using FleetAspire.Names;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Agents.Application;
using FleetAspire.Agents.MachineTransition;
using FleetAspire.Agents.Consumers;
using MassTransit;
using FleetAspire.Data;
using FleetAspire.Messaging;

namespace FleetAspire.Agents;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddFleetDatabase();
        // Before messaging: consumers' writes pass the same fence and dual-write as requests.
        builder.AddMachineTransition(ResourceNames.Agents);
        builder.AddFleetMessaging(AddEventBusSubscriptions);
        builder.Services.AddScoped<AgentService>();
        builder.Services.AddScoped<PoolClaims>();
        builder.Services.AddScoped<MachineAgentMachineStore>();
        builder.Services.AddScoped<LegacyAgentMachineStore>();
        builder.Services.AddScoped<AgentMachineStores>();
    }

    /// <summary>Every event the agents service reacts to.</summary>
    private static void AddEventBusSubscriptions(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<FinalSnapshotTakenConsumer, FinalSnapshotTakenConsumerDefinition>();
        bus.AddConsumer<MachineHealthConsumer, MachineHealthConsumerDefinition>();
    }
}
