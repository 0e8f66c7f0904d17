using FleetAspire.Migration;
using FleetAspire.Migration.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseServiceDefaults();
app.MapMigrationApi();

app.Run();
