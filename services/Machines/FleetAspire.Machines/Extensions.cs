using FleetAspire.Data;
using FleetAspire.Machines.Application;
using FleetAspire.Messaging;
#if MACHINE_TRANSITION
using FleetAspire.Machines.MachineTransition;
#endif

namespace FleetAspire.Machines;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddFleetDatabase();
        builder.Services.AddScoped<ICustomMachineReads, CustomMachineReads>();
        builder.Services.AddScoped<ICustomMachineWrites, CustomMachineWrites>();
#if MACHINE_TRANSITION
        // Over the storage registered above, and before messaging: consumers' writes pass the same fence and dual-write.
        builder.AddMachinesTransition();
#endif
        // The machines service publishes (assignment, health transitions) but consumes nothing.
        builder.AddFleetMessaging();

        builder.Services.AddOptions<HealthCheckOptions>().BindConfiguration(HealthCheckOptions.Section);
        builder.Services.AddScoped<CustomMachineService>();
        builder.Services.AddScoped<HealthRecorder>();
        builder.Services.AddSingleton<HeartbeatSweeper>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<HeartbeatSweeper>());
        builder.Services.AddSingleton<HealthCheckPruner>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<HealthCheckPruner>());
    }
}
