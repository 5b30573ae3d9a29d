# QemuGuest module manifest. ModuleVersion and CmdletsToExport are derived: the Package task
# fails when they disagree with Directory.Build.props and the built QemuGuest.Cmdlets.dll;
# './build.ps1 UpdateManifest' rewrites them.
@{
    RootModule           = 'QemuGuest.Cmdlets.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '5b0d6f4e-6a43-4c1b-9d8e-3f2a8c7e9a10'
    Author               = 'QemuGuest developers'
    CompanyName          = 'QemuGuest'
    Copyright            = '(c) QemuGuest developers. MIT License.'
    Description          = 'Manage the guests of QEMU virtual machines through the QEMU guest agent: copy files, run programs, read guest facts.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FormatsToProcess     = @('QemuGuest.Format.ps1xml')
    CmdletsToExport      = @(
        'Add-VMGuestSshAuthorizedKey'
        'Close-VMGuestFile'
        'Get-VMGuestAgent'
        'Get-VMGuestAgentCapability'
        'Get-VMGuestChildItem'
        'Get-VMGuestDevice'
        'Get-VMGuestDisk'
        'Get-VMGuestDiskStatistic'
        'Get-VMGuestExecStatus'
        'Get-VMGuestFileHash'
        'Get-VMGuestFileSystem'
        'Get-VMGuestFileSystemFreezeStatus'
        'Get-VMGuestHostName'
        'Get-VMGuestItem'
        'Get-VMGuestLoadAverage'
        'Get-VMGuestMemoryBlock'
        'Get-VMGuestMemoryBlockInfo'
        'Get-VMGuestNetworkInterface'
        'Get-VMGuestNetworkRoute'
        'Get-VMGuestOSInfo'
        'Get-VMGuestProcessor'
        'Get-VMGuestProcessorStatistic'
        'Get-VMGuestSession'
        'Get-VMGuestSshAuthorizedKey'
        'Get-VMGuestTime'
        'Get-VMGuestTimeZone'
        'Get-VMGuestUser'
        'Invoke-VMGuestRpc'
        'Move-VMGuestItem'
        'New-VMGuestDirectory'
        'New-VMGuestSession'
        'Open-VMGuestFile'
        'Optimize-VMGuestFileSystem'
        'Read-VMGuestExecStream'
        'Read-VMGuestFile'
        'Remove-VMGuestItem'
        'Remove-VMGuestSession'
        'Remove-VMGuestSshAuthorizedKey'
        'Resume-VMGuestFileSystem'
        'Set-VMGuestFilePosition'
        'Set-VMGuestItemAttribute'
        'Set-VMGuestMemoryBlock'
        'Set-VMGuestProcessor'
        'Set-VMGuestTime'
        'Set-VMGuestUserPassword'
        'Start-VMGuestExec'
        'Start-VMGuestExecStream'
        'Stop-VMGuest'
        'Stop-VMGuestExec'
        'Suspend-VMGuestFileSystem'
        'Suspend-VMGuestHybrid'
        'Suspend-VMGuestMountPoint'
        'Suspend-VMGuestToDisk'
        'Suspend-VMGuestToRam'
        'Sync-VMGuestAgent'
        'Sync-VMGuestChannel'
        'Sync-VMGuestFile'
        'Test-VMGuestAgent'
        'Write-VMGuestFile'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('QEMU', 'qemu-ga', 'GuestAgent', 'VirtualMachine', 'Linux', 'Windows', 'PSEdition_Core', 'PSEdition_Desktop')
            ProjectUri = 'https://example.invalid/qemuguest'
        }
    }
}
