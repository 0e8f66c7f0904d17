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
#if MACHINE_TRANSITION
        builder.AddPoolTransition();
#endif
        builder.AddCloudProvider();
        builder.AddFleetMessaging(AddEventBusSubscriptions);

        builder.Services.AddOptions<PoolOptions>().BindConfiguration(PoolOptions.Section);
        builder.Services.AddSingleton<ReconcileSignal>();
        builder.Services.AddScoped<IPoolReads, MachinePoolReads>();
        builder.Services.AddScoped<IPoolWrites, MachinePoolWrites>();
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
