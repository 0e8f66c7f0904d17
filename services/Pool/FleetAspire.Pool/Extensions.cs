using FleetAspire.Pool.MachineTransition;
using FleetAspire.Names;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Cloud;
using FleetAspire.Data;
using FleetAspire.Messaging;
using FleetAspire.Pool.Application;
using FleetAspire.Pool.Consumers;
using MassTransit;

namespace FleetAspire.Pool;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddFleetDatabase();
        // Before messaging: consumers' writes pass the same fence and dual-write as requests.
        builder.AddMachineTransition(ResourceNames.Pool);
        builder.AddCloudProvider();
        builder.AddFleetMessaging(AddEventBusSubscriptions);

        builder.Services.AddOptions<PoolOptions>().BindConfiguration(PoolOptions.Section);
        builder.Services.AddSingleton<ReconcileSignal>();
        builder.Services.AddScoped<PoolReadsSelector>();
        builder.Services.AddScoped<PoolReconciler>();
        builder.Services.AddHostedService<PoolReconcilerService>();
    }

    /// <summary>Every event the pool reacts to.</summary>
    private static void AddEventBusSubscriptions(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<MachineReleasedConsumer, MachineReleasedConsumerDefinition>();
        bus.AddConsumer<MachineClaimedConsumer, MachineClaimedConsumerDefinition>();
    }
}
