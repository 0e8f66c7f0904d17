using FleetAspire.Agents.Application;
using FleetAspire.Data;
using FleetAspire.Messaging;
using FleetAspire.Names;

namespace FleetAspire.Agents;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddFleetDatabase();
        builder.AddFleetMessaging();
        builder.Services.AddScoped<AgentService>();
        builder.Services.AddScoped<PoolClaims>();
    }
}
