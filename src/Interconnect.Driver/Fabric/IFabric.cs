using Interconnect.Driver.Interop;

namespace Interconnect.Driver.Fabric;

/// <summary>
/// Where receive memory lives and how a write reaches it: the driver's seam between the directory (who is attached)
/// and the bytes. An implementation makes and removes each host's receive memory of a region, maps it for that host's
/// readers, and opens <see cref="IDeliveryTarget"/>s through which a writer's data lands in it. Receive memory is
/// always mapped into its own host's readers (reads are plain loads on every fabric); what differs between fabrics is
/// how a writer reaches it: stores into a shared mapping on one machine, one-sided puts to another machine.
/// </summary>
internal interface IFabric
{
    /// <summary>
    /// Makes the receive memory <paramref name="name"/> of <paramref name="length"/> bytes: zero-filled, or a copy of
    /// <paramref name="copyFrom"/>'s current contents (a coherent region's late joiner). <paramref name="mode"/> and
    /// <paramref name="owner"/> carry the region's permissions to the operating system (the owner's uid only where
    /// the process may give files away: root, as imcd is).
    /// </summary>
    void Create(ReceiveFileName name, long length, int mode, (int Uid, int Gid) owner, ReceiveFileName? copyFrom);

    /// <summary>
    /// Makes the receive memory <paramref name="name"/> the same memory as <paramref name="shared"/> (a direct region:
    /// one memory for every host on this machine), so that a store into either is seen through both.
    /// </summary>
    void Share(ReceiveFileName name, ReceiveFileName shared);

    /// <summary>Removes the receive memory <paramref name="name"/>; what is mapped of it stays readable until unmapped.</summary>
    void Delete(ReceiveFileName name);

    /// <summary>Maps the receive memory <paramref name="name"/> read-only for its host's readers.</summary>
    MappedFile OpenForReceive(ReceiveFileName name, long length);

    /// <summary>Opens the way for a writer's data into the receive memory <paramref name="name"/>.</summary>
    IDeliveryTarget OpenTarget(ReceiveFileName name, long length);

    /// <summary>Where the receive memory <paramref name="name"/> lives, for messages (a path, an address).</summary>
    string Where(ReceiveFileName name);

    /// <summary>What the fabric holds for <paramref name="name"/>, or null when it holds nothing.</summary>
    ReceiveMemoryInfo? Inspect(ReceiveFileName name);

    /// <summary>Everything the fabric holds, with what it could not name as receive memory (which should not be there).</summary>
    IEnumerable<(string Where, ReceiveFileName? Name)> Inventory();
}
