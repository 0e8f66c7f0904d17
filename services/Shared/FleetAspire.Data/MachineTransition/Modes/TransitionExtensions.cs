using System.Reflection;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Data.Reads;
using Microsoft.EntityFrameworkCore;
using FleetAspire.Data.Writes;
using FleetAspire.Names;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.FeatureManagement;
using Npgsql;

namespace FleetAspire.Data.MachineTransition.Modes;

public static class TransitionExtensions
{
    /// <summary>
    /// Makes a service follow the migration phase: the stored phase read and polled, the storage flags, the one
    /// resolver, the epoch fence and dual-write on every write transaction, and this instance's registration.
    /// </summary>
    public static IHostApplicationBuilder AddMachineTransition(this IHostApplicationBuilder builder, string service)
    {
        builder.Services.AddOptions<TransitionOptions>().BindConfiguration(TransitionOptions.Section);
        builder.Services.AddSingleton(_ => new PhaseStore(NpgsqlDataSource.Create(
            builder.Configuration.GetConnectionString(ResourceNames.FleetDatabase)
            ?? throw new InvalidOperationException($"Connection string '{ResourceNames.FleetDatabase}' is missing."))));
        builder.Services.AddSingleton(sp => new InstanceRegistration(
            $"{service}-{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}",
            service,
            Assembly.GetEntryAssembly()?.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown",
            sp.GetRequiredService<IOptions<TransitionOptions>>().Value.Capabilities));
        builder.Services.AddSingleton<PhaseCache>();
        builder.Services.AddSingleton<IFeatureDefinitionProvider, PhaseFeatureDefinitionProvider>();
        builder.Services.AddFeatureManagement();
        builder.Services.AddSingleton<TransitionUsage>();
        builder.Services.AddSingleton<TransitionModeResolver>();
        builder.Services.AddSingleton<Shadow.ComparisonFingerprint>();
        builder.Services.AddSingleton<TransitionWriteInterceptor>();
        builder.Services.AddSingleton<IInterceptor>(sp => sp.GetRequiredService<TransitionWriteInterceptor>());
        builder.Services.AddHostedService<PhaseWatcher>();
        // Over the steady-state registration of AddFleetDatabase (called before this): the phase picks the side per read.
        builder.Services.AddScoped<MachineChildReads>();
        builder.Services.AddScoped<LegacyMachineChildReads>();
        builder.Services.AddScoped<IMachineChildReads, PhaseMachineChildReads>();
        builder.Services.AddScoped<WritePlanner>();
        // Units of work (operations of the context's execution strategy) are planned, and retried once on a phase change.
        builder.Services.ConfigureDbContext<FleetDbContext>((_, options) =>
            options.UseNpgsql(npgsql => npgsql.ExecutionStrategy(dependencies => new PhaseRetryingExecutionStrategy(dependencies))));
        // Over the steady-state registration of AddFleetDatabase: the planned side per call.
        builder.Services.AddScoped<IStorageSides<IAssignmentWrites>, AssignmentSides>();
        builder.Services.AddScoped<IAssignmentWrites, PhaseAssignmentWrites>();
        builder.Services.AddScoped<IBatchFence, TransitionBatchFence>();
        builder.Services.AddOptions<Shadow.ShadowOptions>().BindConfiguration(Shadow.ShadowOptions.Section);
        builder.Services.AddSingleton<Shadow.ShadowCompareQueue>();
        builder.Services.AddSingleton<Shadow.ShadowCompareWorker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Shadow.ShadowCompareWorker>());
        return builder;
    }
}
