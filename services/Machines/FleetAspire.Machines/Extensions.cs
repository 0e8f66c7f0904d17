using FleetAspire.Machines.MachineTransition;
using FleetAspire.Names;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Data;
using FleetAspire.Machines.Application;
using FleetAspire.Messaging;

namespace FleetAspire.Machines;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddFleetDatabase();
        // Before messaging: consumers' writes pass the same fence and dual-write as requests.
        builder.AddMachineTransition(ResourceNames.Machines);
        // The machines service publishes (assignment, health transitions) but consumes nothing.
        builder.AddFleetMessaging();

        builder.Services.AddOptions<HealthCheckOptions>().BindConfiguration(HealthCheckOptions.Section);
        builder.Services.AddScoped<CustomMachineService>();
        builder.Services.AddScoped<CustomMachineReadsSelector>();
        builder.Services.AddScoped<HealthRecorder>();
        builder.Services.AddSingleton<HeartbeatSweeper>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<HeartbeatSweeper>());
        builder.Services.AddSingleton<HealthCheckPruner>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<HealthCheckPruner>());
    }
}
