using System.Text.Json.Serialization;
using Interconnect.Driver.Status;

namespace Interconnect.Imcs;

/// <summary>
/// The JSON documents imcs prints (<c>--json</c>, <c>--check --json</c>), serialised by generated code so that imcs
/// also runs compiled ahead of time (native/bin/imcs), where reflection-based serialisation is not available.
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ClusterStatus))]
[JsonSerializable(typeof(CheckDocument))]
internal sealed partial class ImcsJson : JsonSerializerContext;
