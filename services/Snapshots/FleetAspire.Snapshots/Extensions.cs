using FleetAspire.Cloud;
using FleetAspire.Data;
using FleetAspire.Messaging;
using FleetAspire.Snapshots.Application;
using FleetAspire.Snapshots.Consumers;
using MassTransit;
#if MACHINE_TRANSITION
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Names;
#endif

namespace FleetAspire.Snapshots;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddFleetDatabase();
#if MACHINE_TRANSITION
        // Before messaging: consumers' writes pass the same fence and dual-write as requests.
        builder.AddMachineTransition(ResourceNames.Snapshots);
#endif
        builder.AddCloudProvider();
        builder.AddFleetMessaging(AddEventBusSubscriptions);
        builder.Services.AddScoped<SnapshotService>();
    }

    /// <summary>Every event the snapshots service reacts to.</summary>
    private static void AddEventBusSubscriptions(IBusRegistrationConfigurator bus) =>
        bus.AddConsumer<AgentDeletionRequestedConsumer, AgentDeletionRequestedConsumerDefinition>();
}
