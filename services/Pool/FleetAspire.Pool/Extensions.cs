using FleetAspire.Cloud;
using FleetAspire.Data;
using FleetAspire.Messaging;
using FleetAspire.Pool.Application;
using FleetAspire.Pool.Consumers;
using MassTransit;
#if MACHINE_TRANSITION
using FleetAspire.Pool.MachineTransition;
#endif

namespace FleetAspire.Pool;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddFleetDatabase();
        builder.Services.AddScoped<IPoolReads, MachinePoolReads>();
        builder.Services.AddScoped<IPoolWrites, MachinePoolWrites>();
#if MACHINE_TRANSITION
        // Over the storage registered above, and before messaging: consumers' writes pass the same fence and dual-write.
        builder.AddPoolTransition();
#endif
        builder.AddCloudProvider();
        builder.AddFleetMessaging(AddEventBusSubscriptions);

        builder.Services.AddOptions<PoolOptions>().BindConfiguration(PoolOptions.Section);
        builder.Services.AddSingleton<ReconcileSignal>();
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
