namespace Interconnect.Driver.Tests;

/// <summary>DESIGN.md, "Layers": the driver is internal to the product; user programs see the Imc API only.</summary>
public sealed class SurfaceTests
{
    [Test]
    public void ShouldExportNoPublicTypeFromTheDriver()
    {
        var exported = typeof(DriverSession).Assembly.GetExportedTypes().Select(t => t.FullName);

        Assert.That(exported, Is.Empty);
    }
}
